"""The openai-style surface against a local node: server URL from the environment, ``with_options``,
closed clients, ``to_dict()`` / ``to_json()``, and ``ConfidentialOpenAI`` that never leaks a socket."""

from __future__ import annotations

import gc
import json
import warnings
from typing import Any

import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy, errors
from atoma_sdk.local import LocalNode

from .conftest import CHAT_MODEL, HELLO

QUIET = VerificationPolicy(attestation="off", nonce_reuse="ignore")


# -- server from the environment ----------------------------------------------------------------------------


def test_an_sdk_built_from_the_environment_reaches_the_node(node_env: LocalNode) -> None:
    with AtomaSDK(verification=QUIET) as sdk:
        result = sdk.confidential_chat.create(messages=HELLO, model=CHAT_MODEL)
    assert result.receipt is not None and result.receipt.signer_address == node_env.signer_address


def test_confidential_openai_honours_the_variable_and_never_openai_base_url(
    node_env: LocalNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atoma_sdk.openai import AsyncConfidentialOpenAI, ConfidentialOpenAI

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-atoma")
    with ConfidentialOpenAI(verification=QUIET) as client:
        assert str(client.base_url).rstrip("/") == node_env.url + "/v1"
        assert client.api_key == node_env.api_key
        reply = client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    assert reply.choices[0].message.content
    assert str(AsyncConfidentialOpenAI().base_url).rstrip("/") == node_env.url + "/v1"


# -- with_options and closing -------------------------------------------------------------------------------


def test_with_options_copy_shares_the_lock_pool(node: LocalNode) -> None:
    sdk = AtomaSDK(bearer_auth=node.api_key, server_url=node.url, verification=QUIET, lock_prefetch=True)
    copy = sdk.with_options(timeout=30, max_retries=1)
    assert copy.sdk_configuration.lock_pool_owner is sdk._runtime
    for client in (sdk, copy, sdk):
        client.confidential_chat.create(messages=HELLO, model=CHAT_MODEL)
    assert sdk.lock_pool_stats() == copy.lock_pool_stats()
    stats = sdk.lock_pool_stats()
    assert stats["hits"] + stats["misses"] == 3  # one pool served all three calls
    assert copy.sdk_configuration.lock_pool is None  # the copy holds no pool of its own
    other = sdk.with_options(server_url=node.url + "/")  # same server: still shared
    assert other.sdk_configuration.lock_pool_owner is sdk._runtime
    elsewhere = sdk.with_options(bearer_auth="another-account")
    settings = elsewhere.sdk_configuration
    assert settings.lock_pool_owner is None and not settings.lock_prefetch
    sdk.close()
    with pytest.raises(errors.ClientClosedError):
        copy.confidential_chat.create(messages=HELLO, model=CHAT_MODEL)


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_confidential_calls_after_close_raise_client_closed(node: LocalNode, stream: bool) -> None:
    sdk = AtomaSDK(bearer_auth=node.api_key, server_url=node.url, verification=QUIET)
    copy = sdk.with_options(default_headers={"X-Team": "research"})
    sdk.health.health()
    sdk.close()
    for closed in (sdk, copy):
        with pytest.raises(errors.ClientClosedError):
            if stream:
                closed.confidential_chat.create_stream(messages=HELLO, model=CHAT_MODEL)
            else:
                closed.confidential_chat.create(messages=HELLO, model=CHAT_MODEL)
        with pytest.raises(errors.ClientClosedError):
            closed.models_.models_list()


@pytest.mark.anyio
async def test_async_confidential_calls_after_aclose_raise_client_closed(node: LocalNode) -> None:
    async with AtomaSDK(bearer_auth=node.api_key, server_url=node.url, verification=QUIET) as sdk:
        copy = sdk.with_options(timeout=20)
        stream = await copy.confidential_chat.create_stream_async(messages=HELLO, model=CHAT_MODEL)
        async with stream:
            assert [event async for event in stream]
    for closed in (sdk, copy):
        with pytest.raises(errors.ClientClosedError):
            await closed.confidential_chat.create_async(messages=HELLO, model=CHAT_MODEL)
        with pytest.raises(errors.ClientClosedError):
            await closed.confidential_chat.create_stream_async(messages=HELLO, model=CHAT_MODEL)


# -- to_dict / to_json --------------------------------------------------------------------------------------


def test_results_convert_to_dict_and_json(node: LocalNode) -> None:
    with AtomaSDK(bearer_auth=node.api_key, server_url=node.url, verification=QUIET) as sdk:
        result = sdk.confidential_chat.create(messages=HELLO, model=CHAT_MODEL)
        listing = sdk.models_.models_list()
    data = result.to_dict()
    assert data["model"] == CHAT_MODEL and data["choices"][0]["message"]["role"] == "assistant"
    assert "receipt" not in data and "_atoma_receipt" not in json.dumps(data)
    assert json.loads(result.to_json()) == result.to_dict(mode="json")
    assert "\n" not in result.to_json(indent=None)
    assert [model["id"] for model in listing.to_dict()["data"]] == list(node.config.models)


def test_to_dict_leaves_out_what_was_never_set() -> None:
    from atoma_sdk import models

    message = models.ChatCompletionMessageUser(role="user", content="hi")
    assert message.to_dict() == {"role": "user", "content": "hi"}
    everything = message.to_dict(exclude_unset=False)
    assert everything["role"] == "user" and set(everything) > {"role", "content"}
    assert json.loads(message.to_json()) == {"role": "user", "content": "hi"}


# -- ConfidentialOpenAI closes its transport ----------------------------------------------------------------


def _resource_warnings(use: Any) -> list[str]:
    gc.collect()  # earlier tests' garbage is theirs, not this test's
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        use()
        gc.collect()
    return [str(r.message) for r in records if issubclass(r.category, ResourceWarning)]


def test_confidential_openai_left_to_the_garbage_collector_leaves_no_socket(node: LocalNode) -> None:
    from atoma_sdk.openai import ConfidentialOpenAI

    def use() -> None:
        client = ConfidentialOpenAI(api_key=node.api_key, base_url=node.url + "/v1", verification=QUIET)
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert _resource_warnings(use) == []


def test_confidential_openai_close_and_with_close_the_transport(node: LocalNode) -> None:
    from atoma_sdk.openai import ConfidentialOpenAI

    clients = []
    with ConfidentialOpenAI(api_key=node.api_key, base_url=node.url + "/v1", verification=QUIET) as client:
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
        clients.append(client)
    closing = ConfidentialOpenAI(api_key=node.api_key, base_url=node.url + "/v1", verification=QUIET)
    closing.models.list()
    closing.close()
    clients.append(closing)
    for used in clients:
        transport: Any = used._client._transport
        inner = getattr(transport, "transport", transport)  # the httpx2 adapter wraps the httpx transport
        assert inner._client.is_closed


@pytest.mark.anyio
async def test_async_confidential_openai_closes_with_async_with(node: LocalNode) -> None:
    from atoma_sdk.openai import AsyncConfidentialOpenAI

    base_url = node.url + "/v1"
    async with AsyncConfidentialOpenAI(api_key=node.api_key, base_url=base_url, verification=QUIET) as client:
        await client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    transport: Any = client._client._transport
    inner = getattr(transport, "transport", transport)
    assert inner._client.is_closed
