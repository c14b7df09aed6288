"""Body caps on decoded bytes: bombs, oversized bodies, refused encodings, per-operation overrides."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from atoma_sdk import AtomaSDK, errors
from atoma_sdk._runtime.bounded import ERROR_BODY_LIMIT, RESPONSE_LIMITS

from .conftest import MESSAGES, make_sdk
from .server import HostileServer, Seen, answer, bomb, head, lock_body, streamed

MiB = 1 << 20


def gzip_bomb(seen: Seen) -> Any:
    return answer(200, bomb(), {"Content-Encoding": "gzip"})


def test_the_sdk_asks_only_for_encodings_it_can_bound(server: HostileServer, sdk: AtomaSDK) -> None:
    server.reply = lambda seen: answer(200, lock_body())
    sdk.nodes.nodes_create_lock(model="m")
    assert server.seen[0].headers["accept-encoding"] == "gzip, deflate"


def test_gzip_bomb_on_the_lock_route(server: HostileServer, sdk: AtomaSDK) -> None:
    server.reply = gzip_bomb
    with pytest.raises(errors.ResponseTooLargeError) as caught:
        sdk.nodes.nodes_create_lock(model="m")
    assert caught.value.limit == RESPONSE_LIMITS["nodes_create_lock"] == MiB


@pytest.mark.anyio
async def test_gzip_bomb_on_the_confidential_route_async(server: HostileServer, sdk: AtomaSDK) -> None:
    server.reply = lambda seen: gzip_bomb(seen) if "confidential" in seen.path else answer(200, lock_body())
    with pytest.raises(errors.ResponseTooLargeError):
        await sdk.confidential_chat.create_async(messages=MESSAGES, model="m")


def test_deflate_bomb_both_framings(server: HostileServer, sdk: AtomaSDK) -> None:
    wrapped = bomb(64 * MiB, "deflate")
    raw = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    naked = b"".join([raw.compress(bytes(MiB)) for _ in range(4)]) + raw.flush()
    for body in (wrapped, naked):
        server.reply = lambda seen, body=body: answer(200, body, {"Content-Encoding": "deflate"})
        with pytest.raises(errors.ResponseTooLargeError):
            sdk.nodes.nodes_create_lock(model="m")


def test_honest_compressed_answers_still_work(server: HostileServer, sdk: AtomaSDK) -> None:
    plain = b'{"public_key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","node_small_id":1,' \
        b'"stack_entry_digest":null,"stack_small_id":7}'
    deflated = zlib.compress(plain)
    twice = gzip.compress(plain[:40]) + gzip.compress(plain[40:])  # two gzip members
    for body, coding in ((gzip.compress(plain), "gzip"), (deflated, "deflate"), (twice, "gzip")):
        server.reply = lambda seen, body=body, coding=coding: answer(200, body, {"Content-Encoding": coding})
        assert sdk.nodes.nodes_create_lock(model="m").stack_small_id == 7


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip, br", "compress"])
def test_encodings_it_cannot_bound_are_refused(server: HostileServer, sdk: AtomaSDK, coding: str) -> None:
    server.reply = lambda seen: answer(200, b"\x00" * 64, {"Content-Encoding": coding})
    with pytest.raises(errors.MalformedResponseError) as caught:
        sdk.nodes.nodes_create_lock(model="m")
    assert coding not in str(caught.value)


def test_a_corrupt_gzip_body_is_a_typed_error(server: HostileServer, sdk: AtomaSDK) -> None:
    server.reply = lambda seen: answer(200, b"\x1f\x8b\x08\x00garbage" * 10, {"Content-Encoding": "gzip"})
    with pytest.raises(errors.MalformedResponseError):
        sdk.nodes.nodes_create_lock(model="m")


def test_a_declared_oversized_body_is_refused_before_reading(server: HostileServer, sdk: AtomaSDK) -> None:
    def liar(seen: Seen) -> Any:
        return [head(200, {"Content-Type": "application/json"}, length=10 * MiB) + b"{"]

    server.reply = liar
    with pytest.raises(errors.ResponseTooLargeError):
        sdk.nodes.nodes_create_lock(model="m")


def test_an_undeclared_oversized_body_is_cut_while_reading(server: HostileServer, sdk: AtomaSDK) -> None:
    def endless(seen: Seen) -> Iterator[Any]:
        return streamed(200, (b" " * 65536 for _ in range(1000)))

    server.reply = endless
    with pytest.raises(errors.ResponseTooLargeError):
        sdk.nodes.nodes_create_lock(model="m")


def test_caps_are_overridable_per_operation(server: HostileServer) -> None:
    server.reply = lambda seen: answer(200, lock_body())
    small = make_sdk(server, response_limits={"nodes_create_lock": 50})
    with small, pytest.raises(errors.ResponseTooLargeError) as caught:
        small.nodes.nodes_create_lock(model="m")
    assert caught.value.limit == 50
    with pytest.raises(errors.RequestValidationError):
        make_sdk(server, response_limits={"nodes_create_lock": 0})


def test_an_oversized_error_body_keeps_its_status(server: HostileServer, sdk: AtomaSDK) -> None:
    server.reply = lambda seen: answer(503, b"x" * (ERROR_BODY_LIMIT + 10))
    with pytest.raises(errors.ServiceUnavailableError) as caught:
        sdk.nodes.nodes_create_lock(model="m")
    assert isinstance(caught.value.body, str) and len(caught.value.body) == ERROR_BODY_LIMIT


def sse(events: Iterator[bytes]) -> Iterator[Any]:
    return streamed(200, events, {"Content-Type": "text/event-stream"})


def test_a_gzip_bomb_stream_is_capped(server: HostileServer) -> None:
    server.reply = lambda seen: streamed(
        200, iter([bomb()]), {"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}
    )
    with make_sdk(server, response_limits={"chat_completions_create_stream": 8 * MiB}) as small:
        stream = small.chat.create_stream(messages=MESSAGES, model="m")
        with pytest.raises((errors.ResponseTooLargeError, errors.ResponseValidationError)):
            list(stream)


def test_a_stream_has_a_total_byte_cap_besides_the_per_event_one(server: HostileServer) -> None:
    event = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[]}\n\n'
    server.reply = lambda seen: sse(iter([event] * 2000))
    small = make_sdk(server, response_limits={"chat_completions_create_stream": 10_000})
    with small, pytest.raises(errors.ResponseTooLargeError) as caught:
        list(small.chat.create_stream(messages=MESSAGES, model="m"))
    assert caught.value.limit == 10_000


@pytest.mark.anyio
async def test_attestation_sources_read_with_the_same_bound(server: HostileServer) -> None:
    from atoma_sdk.attestation import _http

    server.reply = gzip_bomb
    request = _http.HttpRequest(server.url + "/v1/get_node_attestation/1", MiB)
    with pytest.raises(errors.AttestationError) as caught:
        _http.send(None, request, 10.0)
    assert caught.value.reason == "oversized"
    with pytest.raises(errors.AttestationError):
        await _http.send_async(None, request, 10.0)


def test_a_body_httpx_read_before_the_sdk_is_still_capped() -> None:
    # A MockTransport's Response(content=...) arrives already read (and decoded): the cap still applies.
    import httpx

    body = json.dumps(lock_body()).encode()
    mock = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with AtomaSDK(server_url="http://mock", client=httpx.Client(transport=mock), retry_config=None) as sdk:
        assert sdk.nodes.nodes_create_lock(model="m").stack_small_id == 7
    limits = {"nodes_create_lock": 10}
    small = AtomaSDK(server_url="http://mock", client=httpx.Client(transport=mock), response_limits=limits)
    with small, pytest.raises(errors.ResponseTooLargeError):
        small.nodes.nodes_create_lock(model="m")
