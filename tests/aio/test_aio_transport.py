"""The aiohttp transport's per-response shortcuts keep httpx's results: cookies still land in the client's
jar, a closed response is freed without the garbage collector, and a buffered body chunk still honours a
deadline that has passed."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atoma_sdk import DefaultAioHttpClient
from atoma_sdk._runtime import deadline
from atoma_sdk.local.server import BackgroundServer

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio"])]


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/cookie`` sets a cookie; anything else answers a small JSON body without one."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json")]
    if scope["path"] == "/cookie":
        headers.append((b"set-cookie", b"flavour=oat; Path=/"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"ok": true}'})


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = BackgroundServer(_app)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


async def test_a_set_cookie_still_lands_in_the_jar(url: str) -> None:
    async with DefaultAioHttpClient() as client:
        await client.get(url + "/plain")
        assert not client.cookies
        await client.get(url + "/cookie")
        assert client.cookies.get("flavour") == "oat"
        client.cookies = {"size": "large"}  # a replaced jar keeps the shortcut and the cookies given
        await client.get(url + "/cookie")
        assert dict(client.cookies) == {"size": "large", "flavour": "oat"}


async def test_a_closed_response_is_freed_without_the_garbage_collector(url: str) -> None:
    async with DefaultAioHttpClient() as client:
        await client.get(url + "/plain")  # the connection is open: nothing below is a one-time object
        gc.disable()
        try:
            response = await client.get(url + "/plain")
            assert response.json() == {"ok": True}
            ref = weakref.ref(response)
            del response
            assert ref() is None  # httpx's stream wrapper points back at it: the transport unbinds it
        finally:
            gc.enable()


async def test_a_buffered_chunk_still_fails_past_the_deadline(url: str) -> None:
    async with DefaultAioHttpClient() as client:
        with deadline.scope(0.5):
            async with client.stream("GET", url + "/plain") as response:
                await asyncio.sleep(0.6)  # the body has arrived meanwhile; the deadline has passed
                with pytest.raises(httpx.ReadTimeout):
                    await response.aread()
