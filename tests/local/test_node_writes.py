"""The node's connections send the writes of one event-loop step together (a response's head and body in one
``send``), in order, and hand over what is pending before closing or aborting."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from atoma_sdk.local import LocalNode
from atoma_sdk.local.guard import _CoalescingTransport

on_asyncio = pytest.mark.parametrize("anyio_backend", ["asyncio"])


class _Recording:
    """A real transport whose ``write`` calls are counted."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


async def _pair() -> tuple[_Recording, _CoalescingTransport, socket.socket]:
    ours, theirs = socket.socketpair()
    transport, _ = await asyncio.get_running_loop().create_connection(asyncio.Protocol, sock=ours)
    recording = _Recording(transport)
    theirs.settimeout(5)
    return recording, _CoalescingTransport(recording), theirs  # type: ignore[arg-type]


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.mark.anyio
@on_asyncio
async def test_writes_of_one_step_leave_in_one_send() -> None:
    recording, coalescing, theirs = await _pair()
    coalescing.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    coalescing.write(b"")
    coalescing.write(b"{}")
    assert recording.writes == []  # nothing yet: the step is not over
    await asyncio.sleep(0)
    assert recording.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    coalescing.write(b"later")
    await asyncio.sleep(0)
    assert recording.writes[1:] == [b"later"]
    coalescing.close()
    await asyncio.sleep(0.01)
    assert _read_all(theirs).endswith(b"{}later")
    theirs.close()


@pytest.mark.anyio
@on_asyncio
@pytest.mark.parametrize("how", ["close", "abort"])
async def test_pending_writes_go_out_before_close_or_abort(how: str) -> None:
    recording, coalescing, theirs = await _pair()
    coalescing.write(b"last words")
    getattr(coalescing, how)()
    assert recording.writes == [b"last words"]
    await asyncio.sleep(0.01)
    assert _read_all(theirs) == b"last words"
    theirs.close()


def test_the_node_answers_through_it() -> None:
    with LocalNode() as node, httpx.Client() as client:
        for _ in range(3):  # keep-alive: several responses on one connection
            assert client.get(node.url + "/health").json() == {"message": "ok"}
