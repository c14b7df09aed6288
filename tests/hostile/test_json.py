"""Hostile JSON at every decode site: only documented typed errors escape, never a bare Python exception.

Sites: error bodies, 2XX bodies (the lock), the confidential envelope, SSE data and SSE error events, the
openai transport, attestation sources. Over loopback for sync, async and streams; then a property test
drives each site's decoder directly with generated hostile bytes.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atoma_sdk import AtomaSDK, errors
from atoma_sdk._runtime import serde
from atoma_sdk._runtime.eventstream import EventStream
from atoma_sdk._runtime.jsonsafe import loads
from atoma_sdk.attestation import _http, sources
from atoma_sdk.openai import _request

from .conftest import MESSAGES
from .server import HostileServer, Seen, answer, lock_body, nested, streamed

DEEP = nested()
HOSTILE: dict[str, bytes] = {
    "deep": DEEP,
    "deep-object": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "nan": b'{"public_key":NaN,"node_small_id":1,"stack_small_id":Infinity}',
    "huge-int": b'{"node_small_id":1' + b"0" * 100_000 + b"}",
    "huge-float": b'{"node_small_id":1e999999}',
    "bad-utf8": b'{"public_key":"\xff\xfe\xc3","node_small_id":1,"stack_small_id":7}',
}
#: What a 2XX body, envelope or event may raise: the typed errors the docs list for undecodable answers.
TYPED = (errors.ResponseValidationError, errors.ConfidentialError, errors.APIError)


def sse(payload: bytes) -> Any:
    return streamed(200, iter([b"data: " + payload + b"\n\n"]), {"Content-Type": "text/event-stream"})


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_error_bodies(server: HostileServer, sdk: AtomaSDK, kind: str) -> None:
    server.reply = lambda seen: answer(400, HOSTILE[kind])
    with pytest.raises(errors.BadRequestError) as caught:
        sdk.nodes.nodes_create_lock(model="m")
    assert len(str(caught.value)) < 1100


@pytest.mark.anyio
@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_lock_bodies_async(server: HostileServer, sdk: AtomaSDK, kind: str) -> None:
    server.reply = lambda seen: answer(200, HOSTILE[kind])
    with pytest.raises(errors.ResponseValidationError):
        await sdk.nodes.nodes_create_lock_async(model="m")


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_confidential_envelopes(server: HostileServer, sdk: AtomaSDK, kind: str) -> None:
    server.reply = lambda seen: answer(200, HOSTILE[kind]) if "confidential" in seen.path else answer(
        200, lock_body()
    )
    with pytest.raises(errors.IntegrityError):
        sdk.confidential_chat.create(messages=MESSAGES, model="m")


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_confidential_stream_events(server: HostileServer, sdk: AtomaSDK, kind: str) -> None:
    server.reply = lambda seen: sse(HOSTILE[kind]) if "confidential" in seen.path else answer(
        200, lock_body()
    )
    with pytest.raises(TYPED):
        list(sdk.confidential_chat.create_stream(messages=MESSAGES, model="m"))


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("as_error", [False, True])
def test_plain_stream_data_and_error_events(
    server: HostileServer, sdk: AtomaSDK, kind: str, as_error: bool
) -> None:
    payload = HOSTILE[kind]
    if as_error:  # an error event whose error value is the hostile JSON
        payload = b'{"error":' + payload + b"}"
    server.reply = lambda seen: sse(payload)
    with pytest.raises(TYPED):
        list(sdk.chat.create_stream(messages=MESSAGES, model="m"))


@pytest.mark.parametrize("kind", ["deep", "nan", "bad-utf8"])
def test_the_openai_transport(server: HostileServer, kind: str) -> None:
    openai = pytest.importorskip("openai")
    from atoma_sdk.openai import ConfidentialOpenAI

    def reply(seen: Seen) -> Any:
        if "confidential" in seen.path:
            return answer(200, HOSTILE[kind])
        return answer(200, lock_body())

    server.reply = reply
    client = ConfidentialOpenAI(api_key="k" * 20, base_url=server.url + "/v1", max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 502  # a verification failure, not a crash
    assert any("confidential" in seen.path for seen in server.seen)


# -- property tests: each decode site with generated hostile bytes ----------------------------------------

_SCALARS = st.sampled_from(
    [b"NaN", b"-Infinity", b"1e400", b"1" + b"0" * 5000, b'"\xff"', b'"\\ud800"', b"nul"]
)


@st.composite
def hostile_json(draw: st.DrawFn) -> bytes:
    depth = draw(st.sampled_from([0, 1, 10, 300, 5000, 120_000]))
    inner = draw(st.one_of(_SCALARS, st.binary(max_size=40), st.just(b"{}")))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"error":', b"}"), (b'{"a":', b"}")]))
    return opener * depth + inner + closer * draw(st.sampled_from([depth, 0]))


HOSTILE_BYTES = st.one_of(hostile_json(), st.binary(max_size=200))


@settings(max_examples=40, deadline=None)
@given(HOSTILE_BYTES)
def test_property_jsonsafe_and_error_bodies(data: bytes) -> None:
    with contextlib.suppress(errors.MalformedResponseError):
        loads(data)
    error = errors.error_for_status(502, data)
    assert isinstance(error, errors.InternalServerError) and len(str(error)) < 1100


@settings(max_examples=40, deadline=None)
@given(HOSTILE_BYTES)
def test_property_response_models(data: bytes) -> None:
    with contextlib.suppress(errors.ResponseValidationError):
        serde.decode_response("NodesCreateLockResponse", data)


@settings(max_examples=30, deadline=None)
@given(HOSTILE_BYTES)
def test_property_stream_events(data: bytes) -> None:
    line = data.replace(b"\n", b" ").replace(b"\r", b" ")
    body = httpx.ByteStream(b"data: " + line + b"\n\n")
    response = httpx.Response(200, stream=body, request=httpx.Request("GET", "http://x"))

    def decode(event: Any) -> Any:
        try:
            return serde.parse_json("ChatCompletionStreamResponse", event.data)
        except Exception as exc:  # the runtime's decoder maps pydantic errors; here: map to typed
            if isinstance(exc, errors.AtomaError):
                raise
            raise errors.ResponseValidationError("bad event") from None

    with contextlib.suppress(errors.ResponseValidationError, errors.APIError):
        list(EventStream(response, decode))


@settings(max_examples=30, deadline=None)
@given(HOSTILE_BYTES)
def test_property_attestation_sources(data: bytes) -> None:
    with contextlib.suppress(errors.AttestationError):
        sources._json(_http.HttpResponse(200, data), "fuzz")


@settings(max_examples=30, deadline=None)
@given(HOSTILE_BYTES)
def test_property_openai_request_bodies(data: bytes) -> None:
    with contextlib.suppress(_request.Refusal):
        _request._json_object(data)


_NUMBER = st.from_regex(rb"\A-?(0|[1-9][0-9]{0,2})(\.[0-9]{1,3})?([eE][+-]?[0-9]{1,4})?\Z") | st.builds(
    lambda n: b"1" * n + b".0", st.integers(300, 420)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_NUMBER, min_size=1, max_size=4), st.sampled_from([b",", b", ", b",\n"]))
def test_property_a_non_finite_number_never_reaches_a_model(numbers: list[bytes], sep: bytes) -> None:
    """Every body holding a number a parser reads as inf is caught by the pre-check of ``parse_json`` and
    refused, typed, by the exact check it then runs."""
    import json
    import math

    body = b'{"id":"chatcmpl-2e269","values":[' + sep.join(numbers) + b"]}"
    if all(math.isfinite(v) for v in json.loads(body)["values"]):
        return
    assert serde._maybe_non_finite(body)
    with pytest.raises(errors.MalformedResponseError):
        loads(body)


def test_hex_ids_do_not_trigger_the_exact_check() -> None:
    assert not serde._maybe_non_finite(b'{"id":"chatcmpl-ab2e269f","v":1e5,"w":2.5e-300}')
    assert serde._maybe_non_finite(b'{"id":"x","v": 2.5e300}')  # a finite hit: the exact check decides


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(_JSON_VALUES, st.sampled_from(["", " ", "\n", " x", "{}", "]"]), st.sampled_from(["", " "]))
def test_property_the_object_fast_path_decodes_as_json_loads(value: Any, tail: str, head: str) -> None:
    """``loads`` scans a text that starts with ``{`` at once; its result, and whether it fails, are
    those of ``json.loads`` for any value, leading or trailing whitespace and trailing junk."""
    import json

    text = head + json.dumps({"k": value}) + tail
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(errors.MalformedResponseError):
            loads(text)
        return
    assert loads(text) == expected
    assert loads(text.encode()) == expected
