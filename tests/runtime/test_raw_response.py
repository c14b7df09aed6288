"""Raw responses on a scripted server: the successful attempt's status, headers and request id."""

from __future__ import annotations

from typing import Any

import pytest

from atoma_sdk._runtime.resource import Resource

from .conftest import CHAT, OK_BODY, PARAMS, SDK, STREAM, no_wait, reply, sse


class Chat(Resource):
    """A hand-made resource: ``with_raw_response`` works on any method of any resource."""

    def create(self, **params: Any) -> Any:
        return self._runtime.call(CHAT, params)

    async def create_async(self, **params: Any) -> Any:
        return await self._runtime.call_async(CHAT, params)

    def stream(self, **params: Any) -> Any:
        return self._runtime.stream(STREAM, params)


def test_the_successful_attempt_is_reported(server: Any) -> None:
    server.push(
        reply(503, {}, headers={"x-request-id": "first"}),
        reply(200, OK_BODY, headers={"x-request-id": "second", "x-extra": "yes"}),
    )
    with SDK(server_url=server.url, bearer_auth="sk-secret-token") as sdk:
        no_wait(sdk)
        raw = Chat(sdk._runtime).with_raw_response.create(**PARAMS)
    assert raw.status_code == 200 and raw.request_id == "second" and raw.headers["x-extra"] == "yes"
    assert raw.parse().id == "r1" and raw.lock_response is None
    assert "sk-secret-token" not in repr(raw) and not hasattr(raw, "request")
    assert len(server.seen) == 2


def test_a_stream_reports_its_opening_response(server: Any) -> None:
    server.push(sse(['{"id": "s", "delta": "x"}', "[DONE]"]))
    with SDK(server_url=server.url) as sdk:
        raw = Chat(sdk._runtime).with_raw_response.stream(**PARAMS)
        with raw.parse() as stream:
            assert [item.delta for item in stream] == ["x"]
    assert raw.status_code == 200 and raw.headers["content-type"] == "text/event-stream"


@pytest.mark.anyio
async def test_async(server: Any) -> None:
    server.push(reply(200, OK_BODY, headers={"request-id": "async-id"}))
    async with SDK(server_url=server.url) as sdk:
        raw = await Chat(sdk._runtime).with_raw_response.create_async(**PARAMS)
    assert raw.request_id == "async-id" and raw.parse().id == "r1"


def test_a_plain_call_after_a_raw_one_records_nothing(server: Any) -> None:
    with SDK(server_url=server.url) as sdk:
        chat = Chat(sdk._runtime)
        chat.with_raw_response.create(**PARAMS)
        assert chat.create(**PARAMS).id == "r1"  # the plain result, no wrapper
