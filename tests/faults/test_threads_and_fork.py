"""One SDK shared by many threads (and many tasks), and an SDK used again in a forked child."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

from adversarial.support import MODEL, expected_text, make_sdk, messages, pool_connections, proxied
from atoma_sdk.local import LocalNode

pytestmark = pytest.mark.timeout(60)


def test_one_sdk_shared_by_many_threads(node: LocalNode) -> None:
    def call(i: int) -> tuple[str, str]:
        prompt = f"thread prompt {i}"
        if i % 2:
            stream = sdk.confidential_chat.create_stream(messages=messages(prompt), model=MODEL)
            return prompt, stream.text()
        answer = sdk.confidential_chat.create(messages=messages(prompt), model=MODEL)
        return prompt, answer.choices[0].message.content

    with make_sdk(node.url, node) as sdk, ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, range(64)))
    assert len(results) == 64
    for prompt, text in results:
        assert text == expected_text(prompt), "an answer went to the wrong request"


@pytest.mark.anyio
async def test_one_async_sdk_shared_by_many_tasks(node: LocalNode) -> None:
    results: dict[str, str] = {}

    async def call(i: int) -> None:
        prompt = f"task prompt {i}"
        answer = await sdk.confidential_chat.create_async(messages=messages(prompt), model=MODEL)
        results[prompt] = answer.choices[0].message.content

    async with make_sdk(node.url, node) as sdk, anyio.create_task_group() as group:
        for i in range(48):
            group.start_soon(call, i)
    assert results == {p: expected_text(p) for p in results} and len(results) == 48


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_never_reuses_the_parents_connections(node: LocalNode) -> None:
    with proxied(node) as (proxy, sdk):
        assert sdk.confidential_chat.create(messages=messages(), model=MODEL).choices[0].message.content
        inherited = pool_connections(sdk)
        assert inherited, "the parent keeps a pooled keep-alive connection"
        before = proxy.total_connections
        pid = os.fork()
        if pid == 0:  # the child: report through the exit status only
            code = 1
            try:
                answer = sdk.confidential_chat.create(messages=messages("child"), model=MODEL)
                right = answer.choices[0].message.content == expected_text("child")
                fresh = not any(c in inherited for c in pool_connections(sdk))
                code = 0 if right and fresh else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert proxy.total_connections == before + 1, "the child opened its own connection"
        answer = sdk.confidential_chat.create(messages=messages("parent"), model=MODEL)
        assert answer.choices[0].message.content == expected_text("parent")
        assert proxy.total_connections == before + 1, "the parent still uses its own connection"
