"""Lock prefetch against the local node over loopback: hits, sizes, pauses, failures, async, close."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from atoma_sdk import AtomaSDK, errors
from atoma_sdk.confidential.lockpool import LOCK_TIMEOUT_S, MAX_POOL, LockPool
from atoma_sdk.local import LocalNode
from atoma_sdk.local.config import CHAT_MODEL
from atoma_sdk.local.tamper import Exchange, Reply, TamperingProxy
from atoma_sdk.utils import BackoffStrategy, RetryConfig

from .conftest import CHAT_PATH, LOCK_PATH, QUIET, Recorder

MESSAGES: Any = [{"role": "user", "content": "prefetch me"}]
FAST_RETRIES = RetryConfig("backoff", BackoffStrategy(1, 5, 1.5, 10_000), max_attempts=4)


def make_sdk(url: str, api_key: str, recorder: Recorder, **kwargs: Any) -> AtomaSDK:
    kwargs.setdefault("lock_prefetch", True)
    return AtomaSDK(bearer_auth=api_key, server_url=url, hooks=[recorder], verification=QUIET, **kwargs)


@pytest.fixture
def sdk(node: LocalNode, recorder: Recorder) -> Iterator[AtomaSDK]:
    with make_sdk(node.url, node.api_key, recorder, retry_config=None) as client:
        yield client


def settled(sdk: AtomaSDK) -> dict[str, int]:
    """The pool's counters once no prefetch is in flight (waits for background work, bounded)."""
    deadline = time.monotonic() + 20
    while True:
        stats = sdk.lock_pool_stats()
        if stats["inflight"] == 0 or time.monotonic() > deadline:
            return stats
        time.sleep(0.005)


async def settled_async(sdk: AtomaSDK) -> dict[str, int]:
    deadline = time.monotonic() + 20
    while True:
        stats = sdk.lock_pool_stats()
        if stats["inflight"] == 0 or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.005)


def chat(sdk: AtomaSDK, **extra: Any) -> Any:
    return sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL, **extra)


def prefetches(recorder: Recorder) -> list[dict[str, Any]]:
    return [body for body in recorder.sent(LOCK_PATH) if body.get("timeout") == LOCK_TIMEOUT_S]


def fresh_locks(recorder: Recorder) -> list[dict[str, Any]]:
    return [body for body in recorder.sent(LOCK_PATH) if "timeout" not in body]


def test_prefetch_is_off_by_default(node: LocalNode, recorder: Recorder) -> None:
    with make_sdk(node.url, node.api_key, recorder, lock_prefetch=False) as sdk:
        chat(sdk)
        chat(sdk)
        assert sdk.sdk_configuration.lock_pool is None
    assert len(fresh_locks(recorder)) == 2 and prefetches(recorder) == []


def test_the_second_call_uses_a_pooled_lock(sdk: AtomaSDK, recorder: Recorder) -> None:
    assert sdk.lock_pool_stats()["lock_calls"] == 0
    chat(sdk)
    stats = settled(sdk)
    assert (stats["ready"], stats["misses"], stats["hits"]) == (1, 1, 0)
    before = len(recorder.bodies)
    result = chat(sdk)
    assert result.receipt is not None and result.receipt.signature_verified
    stats = settled(sdk)
    during = recorder.bodies[before:]
    # No lock on the critical path: the only lock request is the refill (with its long timeout).
    assert [path for path, _ in during].count(CHAT_PATH) == 1
    assert [body for path, body in during if path == LOCK_PATH] == prefetches(recorder)[1:]
    assert len(fresh_locks(recorder)) == 1
    assert (stats["hits"], stats["misses"], stats["lock_calls"]) == (1, 1, 3)


def test_nothing_is_prefetched_before_the_first_call_for_a_model(sdk: AtomaSDK, recorder: Recorder) -> None:
    chat(sdk)
    settled(sdk)
    paths = [path for path, _ in recorder.bodies]
    assert paths[:2] == [LOCK_PATH, CHAT_PATH]
    assert "timeout" not in recorder.bodies[0][1]
    assert all(body.get("timeout") == LOCK_TIMEOUT_S for _, body in recorder.bodies[2:])
    assert len(recorder.bodies) == 3


def test_pooled_locks_have_the_requests_size(sdk: AtomaSDK, recorder: Recorder) -> None:
    # The second size is LARGER than the default: the proxy (and the local node) let a request consume the
    # first unexpired lock on the stack with enough units, so a smaller request would consume the pooled
    # 8192-unit lock, and the last call below would then succeed only if its background refill reached the
    # node before its own request (the flake seen under load: an extra, fresh-lock 8192 send).
    chat(sdk)
    settled(sdk)
    chat(sdk, num_compute_units=10_000)  # another size: the 8192-unit pooled lock must not be used
    stats = settled(sdk)
    assert (stats["hits"], stats["misses"]) == (0, 2)
    chat(sdk, num_compute_units=10_000)
    chat(sdk)
    stats = settled(sdk)
    assert (stats["hits"], stats["misses"], stats["pooled_failures"]) == (2, 2, 0)
    locks = recorder.sent(LOCK_PATH)
    sends = recorder.sent(CHAT_PATH)
    assert {body["max_num_tokens"] for body in locks} == {8192, 10_000}
    assert [body["num_compute_units"] for body in sends] == [8192, 10_000, 10_000, 8192]
    # Every lock of a size was asked for by (or prefetched after) a call of that size.
    assert len([b for b in locks if b["max_num_tokens"] == 10_000]) == 3  # fresh, refill x2


def test_an_expired_pooled_lock_is_never_used(sdk: AtomaSDK, recorder: Recorder) -> None:
    chat(sdk)
    settled(sdk)
    runtime = sdk._runtime
    start = runtime.clock()
    runtime.clock = lambda: start + LOCK_TIMEOUT_S  # later than timeout minus the safety margin
    chat(sdk)
    stats = settled(sdk)
    assert (stats["hits"], stats["misses"], stats["wasted"]) == (0, 2, 1)
    assert len(fresh_locks(recorder)) == 2


def test_a_failure_with_a_pooled_lock_drops_the_pool_and_retries_once_fresh(
    sdk: AtomaSDK, node: LocalNode, recorder: Recorder
) -> None:
    chat(sdk)
    settled(sdk)
    node.faults.fail_next(status=425, route=CHAT_PATH)
    result = chat(sdk)  # no retries configured: the fresh-lock retry is the pool's own
    assert result.receipt is not None and result.receipt.signature_verified
    assert result.receipt.attempts == 1  # the pooled-lock fallback is part of the attempt
    stats = settled(sdk)
    assert (stats["pooled_failures"], stats["hits"]) == (1, 1)
    assert len(fresh_locks(recorder)) == 2
    assert len(recorder.sent(CHAT_PATH)) == 3


def test_without_prefetch_the_same_425_fails_the_call(node: LocalNode, recorder: Recorder) -> None:
    with make_sdk(node.url, node.api_key, recorder, lock_prefetch=False, retry_config=None) as sdk:
        node.faults.fail_next(status=425, route=CHAT_PATH)
        with pytest.raises(errors.TooEarlyError):
            chat(sdk)


def test_a_node_rejection_with_a_pooled_lock_is_not_retried(
    sdk: AtomaSDK, node: LocalNode, recorder: Recorder
) -> None:
    chat(sdk)
    settled(sdk)
    with pytest.raises(errors.NodeRejectedError):
        chat(sdk, max_tokens=10**9)  # the node refuses it (500 "Bad Request")
    assert settled(sdk)["pooled_failures"] == 0 and len(fresh_locks(recorder)) == 1


def test_a_non_lock_failure_with_a_pooled_lock_is_not_retried(sdk: AtomaSDK, node: LocalNode) -> None:
    chat(sdk)
    settled(sdk)
    node.faults.fail_next(status=429, route=CHAT_PATH)
    with pytest.raises(errors.RateLimitError):
        chat(sdk)
    assert settled(sdk)["pooled_failures"] == 0


def test_repeated_pooled_failures_back_off_from_pooling(sdk: AtomaSDK, node: LocalNode) -> None:
    chat(sdk)
    settled(sdk)
    for _ in range(2):
        node.faults.fail_next(status=425, route=CHAT_PATH)
        chat(sdk)
        settled(sdk)
    stats = sdk.lock_pool_stats()
    assert stats["pooled_failures"] == 2 and stats["ready"] == 0
    prefetched = stats["prefetches"]
    chat(sdk)
    chat(sdk)
    stats = settled(sdk)
    assert stats["prefetches"] == prefetched and stats["ready"] == 0


class HeldRefills:
    """Stands in for the pool's worker threads and runs nothing until :meth:`run` (a busy machine's
    scheduling, which no server can produce)."""

    def __init__(self) -> None:
        self.jobs: list[Any] = []

    def submit(self, job: Any) -> None:
        self.jobs.append(job)

    def run(self) -> None:
        jobs, self.jobs = self.jobs, []
        for job in jobs:
            job()

    def stop(self) -> list[threading.Thread]:
        return []


def test_a_refill_decided_before_a_pooled_failure_but_started_after_it_is_stale(
    sdk: AtomaSDK, node: LocalNode
) -> None:
    # The CI flake: the refill a call decides on runs only after that call's pooled lock failed for the
    # second time; its lock belongs to the dropped pool and must not refill a pool that backs off.
    chat(sdk)
    settled(sdk)
    node.faults.fail_next(status=425, route=CHAT_PATH)
    chat(sdk)
    settled(sdk)
    pool = sdk.sdk_configuration.lock_pool
    assert pool is not None
    workers, held = pool._workers, HeldRefills()
    pool._workers = held  # type: ignore[assignment]
    try:
        node.faults.fail_next(status=425, route=CHAT_PATH)
        chat(sdk)
        assert len(held.jobs) == 1
        wasted = sdk.lock_pool_stats()["wasted"]
        held.run()
    finally:
        pool._workers = workers  # closing the SDK stops the real worker threads
    stats = settled(sdk)
    assert (stats["pooled_failures"], stats["ready"], stats["wasted"]) == (2, 0, wasted + 1)


def test_a_refill_that_lands_after_a_pooled_failure_is_replaced(sdk: AtomaSDK, node: LocalNode) -> None:
    # The flake seen under load: the refill started by a call lands *after* that call's pooled lock failed,
    # so it belongs to the dropped pool and is discarded; it must not leave the pool empty for good.
    chat(sdk)
    settled(sdk)
    node.faults.delay_next(400, route=LOCK_PATH)  # the refill this call starts lands late
    node.faults.fail_next(status=425, route=CHAT_PATH)
    chat(sdk)
    stats = settled(sdk)
    assert (stats["pooled_failures"], stats["ready"]) == (1, 1)
    before = stats["hits"]
    chat(sdk)
    assert settled(sdk)["hits"] == before + 1


def test_no_prefetch_after_a_lock_error(node: LocalNode, recorder: Recorder) -> None:
    with make_sdk(node.url, node.api_key, recorder, retry_config=FAST_RETRIES) as sdk:
        node.faults.fail_next(status=503, route=LOCK_PATH)
        chat(sdk)  # the whole unit is retried with a new lock and succeeds
        chat(sdk)
        stats = settled(sdk)
    assert stats["prefetches"] == 0 and prefetches(recorder) == []
    assert len(fresh_locks(recorder)) == 3


def test_a_stack_purchase_stops_prefetching(node: LocalNode, recorder: Recorder) -> None:
    def purchase(exchange: Exchange, reply: Reply) -> Reply | None:
        if exchange.path != LOCK_PATH:
            return None
        answer = reply.json()
        answer["stack_entry_digest"] = "9cNBtqmTCRxJTR7eVZoQbZKk7v4sDQRxVT8JKBCVhxGi"
        return Reply.of_json(answer)

    with (
        TamperingProxy(node.url, mutate_response=purchase) as proxy,
        make_sdk(proxy.url, node.api_key, recorder) as sdk,
    ):
        chat(sdk)
        chat(sdk)
        stats = settled(sdk)
    assert stats["purchases"] == 2 and stats["prefetches"] == 0 and stats["hits"] == 0
    assert prefetches(recorder) == []


def test_the_pool_is_capped_and_serves_concurrent_calls(sdk: AtomaSDK, node: LocalNode) -> None:
    node.faults.set_rtt(20)
    for _ in range(2):
        threads = [threading.Thread(target=chat, args=(sdk,)) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = settled(sdk)
        assert 1 <= stats["ready"] <= MAX_POOL
    assert stats["hits"] >= 1 and stats["hits"] + stats["misses"] == 24


def test_close_stops_background_refills(node: LocalNode, recorder: Recorder) -> None:
    sdk = make_sdk(node.url, node.api_key, recorder)
    chat(sdk)
    settled(sdk)
    node.faults.delay_next(200, route=LOCK_PATH)
    chat(sdk)  # its refill is now in flight for 200 ms
    pool = sdk.sdk_configuration.lock_pool
    assert isinstance(pool, LockPool)
    assert sdk.lock_pool_stats()["inflight"] == 1
    workers = list(pool._workers._threads)  # this pool's (other tests' idle workers may still be alive)
    assert workers and all(t.name == "atoma-lock-prefetch" for t in workers)
    sdk.close()
    assert not any(t.is_alive() for t in workers)
    stats = sdk.lock_pool_stats()
    assert stats["inflight"] == 0 and stats["ready"] == 0 and stats["wasted"] == 1


# -- async twins --


async def achat(sdk: AtomaSDK, **extra: Any) -> Any:
    return await sdk.confidential_chat.create_async(messages=MESSAGES, model=CHAT_MODEL, **extra)


@pytest.mark.anyio
async def test_async_second_call_uses_a_pooled_lock(node: LocalNode, recorder: Recorder) -> None:
    async with make_sdk(node.url, node.api_key, recorder, retry_config=None) as sdk:
        await achat(sdk)
        await settled_async(sdk)
        before = len(recorder.bodies)
        await achat(sdk)
        stats = await settled_async(sdk)
        during = recorder.bodies[before:]
        assert all(body.get("timeout") == LOCK_TIMEOUT_S for path, body in during if path == LOCK_PATH)
        assert (stats["hits"], stats["misses"]) == (1, 1)
        # Concurrent calls share the pool.
        await asyncio.gather(*(achat(sdk) for _ in range(6)))
        stats = await settled_async(sdk)
        assert stats["hits"] >= 2 and 1 <= stats["ready"] <= MAX_POOL


@pytest.mark.anyio
async def test_async_pooled_failure_and_aclose(node: LocalNode, recorder: Recorder) -> None:
    sdk = make_sdk(node.url, node.api_key, recorder, retry_config=None)
    await achat(sdk)
    await settled_async(sdk)
    node.faults.fail_next(status=425, route=CHAT_PATH)
    result = await achat(sdk)
    assert result.receipt is not None and result.receipt.signature_verified
    assert (await settled_async(sdk))["pooled_failures"] == 1
    node.faults.delay_next(500, route=LOCK_PATH)
    await achat(sdk)
    pool = sdk.sdk_configuration.lock_pool
    assert isinstance(pool, LockPool)
    tasks = list(pool._tasks)
    assert tasks and sdk.lock_pool_stats()["inflight"] >= 1
    await sdk.aclose()
    assert all(task.done() for task in tasks) and not pool._tasks
    stats = sdk.lock_pool_stats()
    assert stats["inflight"] == 0 and stats["ready"] == 0
