"""The node's SSE responses: events from a body iterator, ``: keep-alive`` comments whenever the stream idles.

The proxy serves streams through axum's ``Sse`` with ``KeepAlive::new().interval(15 ms).text("keep-alive")``
(protocol.md §5.1, §12.4): a comment goes out after every 15 ms without an event, from the moment the
response starts (before the first event too) until it ends. :class:`EventStreamResponse` does the same
with a ticker task next to the body, so idleness is measured in time, not in events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Send

from .wire import KEEP_ALIVE, SSE_HEADERS


class EventStreamResponse(StreamingResponse):
    """``text/event-stream`` from ``body``; a keep-alive after ``keep_alive`` idle seconds (None: never)."""

    def __init__(self, body: AsyncIterator[bytes], *, keep_alive: float | None) -> None:
        super().__init__(body, media_type="text/event-stream", headers=SSE_HEADERS)
        self._interval = keep_alive if keep_alive and keep_alive > 0 else None

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        interval = self._interval
        last = anyio.current_time()
        guard = anyio.Lock()

        async def write(data: bytes) -> None:
            nonlocal last
            async with guard:
                await send({"type": "http.response.body", "body": data, "more_body": True})
                last = anyio.current_time()

        async def tick(interval: float) -> None:
            while True:
                await anyio.sleep(max(0.0, last + interval - anyio.current_time()))
                if anyio.current_time() - last >= interval:
                    await write(KEEP_ALIVE)

        error: Exception | None = None
        async with anyio.create_task_group() as group:
            if interval is not None:
                group.start_soon(tick, interval)
            try:
                async for chunk in self.body_iterator:
                    await write(chunk.encode() if isinstance(chunk, str) else bytes(chunk))
            except Exception as exc:  # re-raised below, unwrapped (the task group would group it)
                error = exc
            group.cancel_scope.cancel()
        if error is not None:
            raise error
        await send({"type": "http.response.body", "body": b"", "more_body": False})
