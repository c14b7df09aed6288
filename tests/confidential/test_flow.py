"""The plaintext confidential flow against the local node over loopback: honest paths, retries, tampering."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy, errors
from atoma_sdk.confidential.policy import ConfidentialityWarning
from atoma_sdk.local import LocalNode, NodeConfig
from atoma_sdk.local.config import CHAT_MODEL, EMBEDDING_MODEL, IMAGE_MODEL
from atoma_sdk.local.model import chat_completion
from atoma_sdk.utils import BackoffStrategy, RetryConfig

MESSAGES = [{"role": "user", "content": "What does the local node answer?"}]
FAST_RETRIES = RetryConfig("backoff", BackoffStrategy(1, 5, 1.5, 10_000), max_attempts=4)


class Recorder:
    """A before-request hook that keeps every request body the SDK sends, by path."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []

    def before_request(self, ctx: Any, request: httpx.Request) -> httpx.Request:
        self.bodies.append((request.url.path, json.loads(request.content or b"{}")))
        return request

    def paths(self) -> list[str]:
        return [path for path, _ in self.bodies]


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    with LocalNode() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_faults(node: LocalNode) -> Iterator[None]:
    node.faults.clear()
    yield
    node.faults.clear()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sdk(node: LocalNode, recorder: Recorder) -> Iterator[AtomaSDK]:
    with AtomaSDK(
        bearer_auth=node.api_key, server_url=node.url, retry_config=FAST_RETRIES, hooks=[recorder]
    ) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def expected_text(**extra: Any) -> str:
    answer = chat_completion({"messages": MESSAGES, "model": CHAT_MODEL, **extra})
    text: str = answer["choices"][0]["message"]["content"]
    return text


def test_create_returns_the_models_verified_answer(sdk: AtomaSDK, node: LocalNode) -> None:
    result = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    assert result.choices[0].message.content == expected_text()
    receipt = result.receipt
    assert receipt is not None
    assert receipt.response_hash_verified and receipt.signature_verified and receipt.complete
    assert receipt.signer_address == node.signer_address
    assert receipt.node_public_key == node.public_key
    assert (receipt.attempts, receipt.streamed, receipt.nonce_reuse) == (1, False, False)


def test_lock_units_equal_declared_units(sdk: AtomaSDK, recorder: Recorder) -> None:
    sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, num_compute_units=512, max_tokens=4)
    locks = [body for path, body in recorder.bodies if path == "/v1/nodes/lock"]
    sent = [body for path, body in recorder.bodies if path == "/v1/confidential/chat/completions"]
    assert [lock["max_num_tokens"] for lock in locks] == [8192, 512]
    assert [body["num_compute_units"] for body in sent] == [8192, 512]
    assert all(body["stream"] is False and body["model_name"] == CHAT_MODEL for body in sent)
    assert "messages" not in json.dumps(sent)  # the prompt only travels encrypted


def test_stream_yields_verified_chunks_and_keeps_usage(sdk: AtomaSDK) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stream = sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL)
        texts = [item.data.choices[0].delta.content or "" for item in stream]
    assert "".join(texts) == expected_text()
    with_text = [text for text in texts if text]
    assert stream.usage is not None and 0 < len(with_text) <= stream.usage.completion_tokens
    # vLLM-like chunks: a role-only first one, a held-back token's empty one, some with several tokens.
    assert texts[0] == "" and "" in texts[1:]
    receipt = stream.receipt
    assert receipt.complete and receipt.nonce_reuse and receipt.chunk_count_within_bound is True
    assert receipt.content_chunks == len(with_text) and receipt.stream_mode is None
    assert [w.category for w in caught if "nonce" in str(w.message)] == [ConfidentialityWarning]


def test_repeated_tokens_arrive_as_identical_chunks(sdk: AtomaSDK) -> None:
    stream = sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL, max_tokens=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfidentialityWarning)
        texts = [item.data.choices[0].delta.content or "" for item in stream]
    assert "".join(texts) == expected_text(max_tokens=6)
    assert 0 < len([text for text in texts if text]) <= 6  # never more chunks with text than max_tokens
    # vLLM-like: a role-only first chunk, then text chunks (one held back: empty); the third token repeats.
    assert texts[0] == "" and texts[2] == texts[3]


def test_nonce_reuse_raise_policy(sdk: AtomaSDK) -> None:
    policy = VerificationPolicy(nonce_reuse="raise")
    stream = sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL, verification=policy)
    with pytest.raises(errors.NonceReuseError):
        list(stream)


def test_unique_nonces_do_not_warn() -> None:
    with (
        LocalNode(NodeConfig(unique_chunk_nonces=True)) as fixed_node,
        AtomaSDK(bearer_auth=fixed_node.api_key, server_url=fixed_node.url) as client,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error", ConfidentialityWarning)
        stream = client.confidential_chat.create_stream(
            messages=MESSAGES,
            model=CHAT_MODEL,
            verification=VerificationPolicy(nonce_reuse="raise", attestation="off"),
        )
        assert "".join(item.data.choices[0].delta.content or "" for item in stream) == expected_text()
        assert not stream.receipt.nonce_reuse


def test_buffer_policy_streams_from_a_non_streamed_request(sdk: AtomaSDK, recorder: Recorder) -> None:
    policy = VerificationPolicy(nonce_reuse="buffer")
    stream = sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL, verification=policy)
    assert stream.text() == expected_text()
    assert stream.receipt.stream_mode == "buffer" and stream.usage is not None
    sent = [body for path, body in recorder.bodies if path == "/v1/confidential/chat/completions"]
    assert sent[-1]["stream"] is False


def test_final_message_accumulates(sdk: AtomaSDK) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfidentialityWarning)
        stream = sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL)
        message = stream.final_message()
    assert (message.role, message.content) == ("assistant", expected_text())


@pytest.mark.anyio
async def test_async_create_and_stream(sdk: AtomaSDK) -> None:
    result = await sdk.confidential_chat.create_async(messages=MESSAGES, model=CHAT_MODEL)
    assert result.choices[0].message.content == expected_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfidentialityWarning)
        stream = await sdk.confidential_chat.create_stream_async(messages=MESSAGES, model=CHAT_MODEL)
        assert await stream.text() == expected_text()
    assert stream.receipt.complete and stream.usage is not None


def test_other_confidential_operations(sdk: AtomaSDK, recorder: Recorder) -> None:
    completion = sdk.confidential_completions.create(prompt="Say something", model=CHAT_MODEL, max_tokens=5)
    assert completion.choices[0].text and completion.receipt is not None
    embedding = sdk.confidential_embeddings.create(input="embed me", model=EMBEDDING_MODEL)
    assert len(embedding.data[0].embedding) > 0 and embedding.receipt is not None
    image = sdk.confidential_images.generate(prompt="a cat", model=IMAGE_MODEL, size="256x256", n=2)
    assert len(image.data) == 2 and image.receipt is not None
    locks = {path: body for path, body in recorder.bodies if path != "/v1/nodes/lock"}
    assert "num_compute_units" not in locks["/v1/confidential/embeddings"]
    assert locks["/v1/confidential/images/generations"]["num_compute_units"] == 256 * 256 * 2
    lock_bodies = [body for path, body in recorder.bodies if path == "/v1/nodes/lock"]
    assert [b.get("max_num_tokens") for b in lock_bodies] == [8192, None, 256 * 256 * 2]


COMPLETIONS_PATH = "/v1/confidential/completions"


def _completions_bodies(recorder: Recorder) -> list[dict[str, Any]]:
    return [body for path, body in recorder.bodies if path == COMPLETIONS_PATH]


def test_completions_stream_is_buffered_by_default(sdk: AtomaSDK, recorder: Recorder) -> None:
    """The proxy drops native completions chunks (protocol.md §12.1): one non-streamed request instead."""
    expected = sdk.confidential_completions.create(prompt="Say something", model=CHAT_MODEL, max_tokens=5)
    recorder.bodies.clear()
    with warnings.catch_warnings():
        # No stream nonces: nothing to warn about (the unattested-key warning aside).
        warnings.filterwarnings("error", message=".*nonce", category=ConfidentialityWarning)
        stream = sdk.confidential_completions.create_stream(
            prompt="Say something", model=CHAT_MODEL, max_tokens=5,
            stream_options={"include_usage": True},
        )
        texts = [item.data.choices[0].text for item in stream]
    assert "".join(texts) == expected.choices[0].text
    receipt = stream.receipt
    assert receipt.complete and receipt.streamed and receipt.stream_mode == "buffer"
    assert receipt.attempts == 1 and receipt.chunk_count_within_bound is None
    assert stream.usage is not None and stream.usage.completion_tokens == receipt.completion_tokens
    sent = _completions_bodies(recorder)
    assert len(sent) == 1 and sent[0]["stream"] is False
    assert recorder.paths().count("/v1/nodes/lock") == 1


@pytest.mark.anyio
async def test_completions_stream_is_buffered_by_default_async(sdk: AtomaSDK, recorder: Recorder) -> None:
    stream = await sdk.confidential_completions.create_stream_async(
        prompt="Say something", model=CHAT_MODEL, max_tokens=5, stream_options={"include_usage": True}
    )
    text = "".join([item.data.choices[0].text async for item in stream])
    assert text and stream.receipt.stream_mode == "buffer" and stream.receipt.complete
    sent = _completions_bodies(recorder)
    assert len(sent) == 1 and sent[0]["stream"] is False


def test_completions_stream_sends_one_request_per_attempt(
    sdk: AtomaSDK, node: LocalNode, recorder: Recorder
) -> None:
    node.faults.fail_next(2, status=503, retry_after=0, route=COMPLETIONS_PATH)
    stream = sdk.confidential_completions.create_stream(
        prompt="Say something", model=CHAT_MODEL, max_tokens=5
    )
    assert "".join(item.data.choices[0].text for item in stream)
    assert stream.receipt.attempts == 3 and stream.receipt.stream_mode == "buffer"
    assert len(_completions_bodies(recorder)) == 3  # one per attempt, none after the 2XX
    assert recorder.paths().count("/v1/nodes/lock") == 3


def test_native_completions_stream_is_opt_in(sdk: AtomaSDK, recorder: Recorder) -> None:
    policy = VerificationPolicy(completions_stream="native", nonce_reuse="ignore")
    try:
        stream = sdk.confidential_completions.create_stream(
            prompt="Say something", model=CHAT_MODEL, max_tokens=5, verification=policy
        )
        list(stream)
        assert stream.receipt.stream_mode is None and stream.receipt.complete
    except errors.StreamTruncatedError:
        pass  # a node that plays today's proxy drops every native completions chunk
    sent = _completions_bodies(recorder)
    assert len(sent) == 1 and sent[0]["stream"] is True


def test_nonce_reuse_buffer_wins_over_native(sdk: AtomaSDK, recorder: Recorder) -> None:
    policy = VerificationPolicy(completions_stream="native", nonce_reuse="buffer")
    stream = sdk.confidential_completions.create_stream(
        prompt="Say something", model=CHAT_MODEL, max_tokens=5, verification=policy,
        stream_options={"include_usage": True},
    )
    assert "".join(item.data.choices[0].text for item in stream)
    assert stream.receipt.stream_mode == "buffer"
    (sent,) = _completions_bodies(recorder)
    assert sent["stream"] is False


# -- whole-unit retries --


@pytest.mark.parametrize("status", [429, 503, 425, 423, 500])
def test_retry_takes_a_new_unit(sdk: AtomaSDK, node: LocalNode, recorder: Recorder, status: int) -> None:
    node.faults.fail_next(2, status=status, retry_after=0, route="/v1/confidential/chat/completions")
    result = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    assert result.choices[0].message.content == expected_text()
    assert result.receipt is not None and result.receipt.attempts == 3
    assert recorder.paths().count("/v1/nodes/lock") == 3
    sent = [body for path, body in recorder.bodies if path == "/v1/confidential/chat/completions"]
    assert len({body["ciphertext"] for body in sent}) == 3  # never the same ciphertext twice
    assert len({body["client_dh_public_key"] for body in sent}) == 3
    assert len({body["salt"] for body in sent}) == 3


def test_key_rotation_between_lock_and_request_recovers(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.rotate_key_next()
    result = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    assert result.receipt is not None and result.receipt.attempts == 2
    assert result.receipt.node_public_key == node.public_key


def test_no_retry_when_retries_are_off(sdk: AtomaSDK, node: LocalNode, recorder: Recorder) -> None:
    node.faults.fail_next(1, status=503, route="/v1/confidential/chat/completions")
    with pytest.raises(errors.ServiceUnavailableError):
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, retries=None)
    assert recorder.paths().count("/v1/nodes/lock") == 1


def test_stream_retried_before_first_chunk(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.fail_next(1, status=503, retry_after=0, route="/v1/confidential/chat/completions")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfidentialityWarning)
        stream = sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL)
        assert stream.text() == expected_text()
    assert stream.receipt.attempts == 2


def test_lock_errors_keep_their_status(node: LocalNode) -> None:
    with (
        AtomaSDK(bearer_auth="wrong-token", server_url=node.url) as client,
        pytest.raises(errors.AuthenticationError) as info,
    ):
        client.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    assert info.value.status_code == 401
    with (
        AtomaSDK(bearer_auth=node.api_key, server_url=node.url) as client,
        pytest.raises(errors.ServiceUnavailableError),
    ):
        client.confidential_chat.create(messages=MESSAGES, model="no/such-model", retries=None)


# -- tampering the node can simulate --


def test_corrupted_answer_is_an_integrity_error(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.corrupt_chunk()
    with pytest.raises(errors.IntegrityError):
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)


def test_corrupted_chunk_is_an_integrity_error(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.corrupt_chunk(3)
    stream = sdk.confidential_chat.create_stream(
        messages=MESSAGES, model=CHAT_MODEL, verification=VerificationPolicy(nonce_reuse="ignore")
    )
    with pytest.raises(errors.IntegrityError):
        list(stream)


def test_reflected_request_is_rejected(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.reflect_next()
    with pytest.raises(errors.IntegrityError, match="reflected"):
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)


def test_unencrypted_chunk_is_rejected(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.plaintext_chunk(2)
    stream = sdk.confidential_chat.create_stream(
        messages=MESSAGES, model=CHAT_MODEL, verification=VerificationPolicy(nonce_reuse="ignore")
    )
    with pytest.raises(errors.IntegrityError, match="not encrypted"):
        list(stream)


@pytest.mark.parametrize("after", [0, 3])
def test_truncated_stream_raises(sdk: AtomaSDK, node: LocalNode, after: int) -> None:
    node.faults.truncate_after(after)
    with pytest.raises(errors.StreamTruncatedError):
        stream = sdk.confidential_chat.create_stream(
            messages=MESSAGES, model=CHAT_MODEL, verification=VerificationPolicy(nonce_reuse="ignore")
        )
        list(stream)


def test_pinned_signer_mismatch(sdk: AtomaSDK) -> None:
    policy = VerificationPolicy(pinned_signers=frozenset({"0x" + "ab" * 32}))
    with pytest.raises(errors.SignatureError, match="not pinned"):
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, verification=policy)


def test_pinned_signer_match(sdk: AtomaSDK, node: LocalNode) -> None:
    policy = VerificationPolicy(pinned_signers=frozenset({node.signer_address.upper().replace("0X", "0x")}))
    result = sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, verification=policy)
    assert result.receipt is not None and result.receipt.signer_pinned is True


def test_both_or_neither_form_is_a_type_error(sdk: AtomaSDK) -> None:
    with pytest.raises(TypeError):
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, ciphertext="AAAA")  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        sdk.confidential_chat.create()  # type: ignore[call-overload]


def test_invalid_plaintext_request_leaves_no_prompt_in_the_error(sdk: AtomaSDK) -> None:
    canary = "canary-" + "7f3e" * 4
    with pytest.raises(errors.RequestValidationError) as info:
        sdk.confidential_chat.create(
            messages=[{"role": "user", "content": canary}],
            model=CHAT_MODEL,
            temperature="hot",  # type: ignore[arg-type]
        )
    chain: list[BaseException] = []
    error: BaseException | None = info.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert all(canary not in repr(e) and canary not in str(e) for e in chain)
    assert all(not hasattr(e, "errors") for e in chain)  # no pydantic ValidationError kept in the chain
