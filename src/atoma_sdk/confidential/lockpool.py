"""Lock prefetch (``AtomaSDK(lock_prefetch=True)``): node locks acquired ahead, so a call finds one ready.

A confidential call costs a lock round trip before its request; the pool takes it off the critical path.
Rules (GitHub issue 10): one lock per request, of exactly the request's size (the pool is keyed by model,
units and the call's server / headers); the pool holds at most the recent peak concurrency (capped at
:data:`MAX_POOL`); it refills when a call starts or completes, never on a timer, and only once a call for that
key obtained a lock; pooled locks ask for :data:`LOCK_TIMEOUT_S` and are never used past that minus
:data:`SAFETY_MARGIN_S`. Prefetching pauses after a lock error, after a lock response shows a stack purchase
(non-null ``stack_entry_digest``), and (with exponential back-off) after repeated failures of pooled locks.
A call that finds no ready lock while a prefetch is in flight (one nobody else waits for) waits for it
(at most :data:`WAIT_S`): that prefetch started earlier, so it lands sooner than a fresh lock would.

Decisions live in :class:`LockPool` methods shared by both shells; only the refill I/O differs: sync
calls refill on the pool's own daemon worker threads (kept between refills: starting a thread waits for it
to run, which under a busy GIL put milliseconds on the calling request's path), async calls in tasks on the
running asyncio loop (threads when the loop is not asyncio). :meth:`LockPool.close` / :meth:`LockPool.aclose`
stop and wait for both.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .. import errors
from .._runtime.operation import RequestOptions
from ..nodes import Nodes

__all__ = [
    "LOCK_TIMEOUT_S",
    "MAX_POOL",
    "SAFETY_MARGIN_S",
    "Lease",
    "LockPool",
    "PoolKey",
    "PoolStats",
    "Ticket",
    "pool_for",
]

#: Most locks held (ready + being fetched) per key.
MAX_POOL: Final = 8
#: The ``timeout`` pooled lock requests ask for (seconds).
LOCK_TIMEOUT_S: Final = 30
#: A pooled lock is used only while younger than ``LOCK_TIMEOUT_S - SAFETY_MARGIN_S``.
SAFETY_MARGIN_S: Final = 5.0
#: Recent call starts whose concurrency sizes the pool.
WINDOW: Final = 16
#: Prefetching pauses for this long after a lock error or a stack purchase (seconds).
LOCK_ERROR_PAUSE_S: Final = 60.0
PURCHASE_PAUSE_S: Final = 300.0
#: Pooled-lock failures in a row before pooling backs off; the back-off doubles up to the maximum.
FAILURES_BEFORE_BACKOFF: Final = 2
FAILURE_PAUSE_S: Final = 30.0
MAX_FAILURE_PAUSE_S: Final = 600.0
#: Statuses a stale pooled lock (expired, pruned, rotated node key) can cause: retried once with a fresh lock.
_LOCK_STATUSES: Final = frozenset({423, 425})
_JOIN_TIMEOUT_S: Final = 5.0
#: Longest wait for a prefetch in flight before locking afresh (seconds).
WAIT_S: Final = 10.0
#: A refill worker thread with no work for this long exits (seconds).
WORKER_IDLE_S: Final = 30.0
_lazy_guard = threading.Lock()


class _Workers:
    """Daemon threads that run sync refills: at most one per refill in flight, kept while work keeps coming
    (an idle one exits after :data:`WORKER_IDLE_S`), so a refill is a queue put, not a thread start. A forked
    child (which has none of the parent's threads) starts afresh."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._idle = 0
        self._threads: set[threading.Thread] = set()

    def submit(self, job: Callable[[], None]) -> None:
        if self._pid != os.getpid():
            self.__init__()  # type: ignore[misc]
        with self._guard:
            self._jobs.put(job)
            if self._idle:
                self._idle -= 1  # a waiting worker takes it
                return
            thread = threading.Thread(target=self._run, name="atoma-lock-prefetch", daemon=True)
            self._threads.add(thread)
        thread.start()

    def _run(self) -> None:
        try:
            while True:
                try:
                    job = self._jobs.get(timeout=WORKER_IDLE_S)
                except queue.Empty:
                    with self._guard:
                        if self._idle:  # nobody counts on this worker: leave
                            self._idle -= 1
                            return
                    continue
                if job is None:
                    return
                job()
                with self._guard:
                    self._idle += 1
        finally:
            with self._guard:
                self._threads.discard(threading.current_thread())

    def stop(self) -> list[threading.Thread]:
        """Ask every worker to exit once its current refill is done; the threads to wait for."""
        with self._guard:
            threads = list(self._threads)
            for _ in threads:
                self._jobs.put(None)
        return threads


@dataclass(frozen=True)
class PoolKey:
    """Which pooled locks a call may use: same model, same units, same server and headers."""

    model: str
    units: int | None
    server_url: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def for_call(cls, model: str, units: int | None, options: RequestOptions) -> PoolKey:
        headers = tuple(sorted((options.http_headers or {}).items()))
        return cls(model, units, options.server_url, headers)

    def lock_options(self) -> dict[str, Any]:
        """Keyword arguments of ``nodes_create_lock`` for a pooled lock of this key."""
        params: dict[str, Any] = {"model": self.model, "timeout": LOCK_TIMEOUT_S, "retries": None}
        if self.units is not None:
            params["max_num_tokens"] = self.units
        params["server_url"] = self.server_url
        params["http_headers"] = dict(self.headers) or None
        return params


@dataclass
class PoolStats:
    """Counters over the pool's life (all keys)."""

    #: Lock requests made by calls and by prefetching while lock_prefetch is on.
    lock_calls: int = 0
    #: Of those, the prefetching ones.
    prefetches: int = 0
    #: Calls that got a pooled lock / that had to lock on the critical path.
    hits: int = 0
    misses: int = 0
    #: Of the hits, those that waited for a prefetch in flight.
    waited: int = 0
    #: Pooled locks never used: too old, dropped after a failure, or left at close.
    wasted: int = 0
    #: Lock responses that showed a stack purchase.
    purchases: int = 0
    #: Requests that failed with a pooled lock (each retried once with a fresh lock).
    pooled_failures: int = 0
    #: Locks ready / being fetched right now.
    ready: int = 0
    inflight: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Lease:
    """A pooled lock handed to one call."""

    lock: Any
    usable_until: float
    generation: int = 0


class Ticket:
    """A call's claim on the pool: a ready lease, nothing, or a prefetch in flight to wait for.

    A sync call waits on an event; an async call on a future of its loop (a lease delivered after the
    call gave up goes back to the pool).
    """

    def __init__(
        self,
        pool: LockPool,
        key: PoolKey,
        lease: Lease | None = None,
        *,
        wait: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.pool, self.key, self.lease, self.waiting, self.loop = pool, key, lease, wait, loop
        self.event = threading.Event()
        self.future: asyncio.Future[Lease | None] | None = (
            loop.create_future() if wait and loop is not None else None
        )

    def deliver(self, lease: Lease | None) -> None:
        """Hand over a prefetched lease (None: the prefetch failed or was discarded); under the pool guard."""
        if self.future is None:
            self.lease = lease
            self.event.set()
            return
        assert self.loop is not None
        try:
            self.loop.call_soon_threadsafe(self._resolve, lease)
        except RuntimeError:  # the waiting loop is closed
            if lease is not None:
                self.pool.restore(self.key, lease)

    def _resolve(self, lease: Lease | None) -> None:
        assert self.future is not None
        if not self.future.done():
            self.future.set_result(lease)
        elif lease is not None:
            self.pool.restore(self.key, lease)

    def take(self) -> Lease | None:
        """The lease for a sync call (waiting for a prefetch in flight if need be)."""
        if self.waiting:
            self.waiting = False
            if not self.event.wait(WAIT_S):
                self.lease = self.pool.abandon(self)
            self.pool.count(self.lease, waited=True)
        return self.lease

    async def take_async(self) -> Lease | None:
        """The lease for an async call (waiting for a prefetch in flight if need be)."""
        if self.waiting:
            self.waiting = False
            if self.future is None:
                self.lease = self.pool.abandon(self)
            else:
                try:
                    self.lease = await asyncio.wait_for(asyncio.shield(self.future), WAIT_S)
                except asyncio.TimeoutError:
                    self.lease = self.pool.abandon(self)
                except asyncio.CancelledError:
                    lease = self.pool.abandon(self)
                    if lease is not None:
                        self.pool.restore(self.key, lease)
                    raise
            self.pool.count(self.lease, waited=True)
        return self.lease


@dataclass
class _Slot:
    ready: deque[Lease] = field(default_factory=deque)
    waiters: deque[Ticket] = field(default_factory=deque)
    inflight: int = 0
    active: int = 0
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=WINDOW))
    primed: bool = False
    paused_until: float = 0.0
    failures: int = 0
    generation: int = 0
    #: The generation each refill not yet started was decided in, oldest first (refills are interchangeable).
    unstarted: deque[int] = field(default_factory=deque)


class LockPool:
    """The pre-acquired locks of one SDK instance (see the module docstring); thread-safe."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.nodes = Nodes(runtime)
        self._guard = threading.RLock()
        self._slots: dict[PoolKey, _Slot] = {}
        self._stats = PoolStats()
        self._workers = _Workers()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # -- decisions (shared) --

    def _now(self) -> float:
        now: float = self.runtime.clock()
        return now

    def _slot(self, key: PoolKey) -> _Slot:
        return self._slots.setdefault(key, _Slot())

    def _wanted(self, slot: _Slot) -> int:
        """How many locks to start fetching now (0 when prefetching is not allowed); counted in flight."""
        if self._closed or not slot.primed or self._now() < slot.paused_until:
            return 0
        target = min(MAX_POOL, max(slot.recent, default=0))
        unclaimed = slot.inflight - len(slot.waiters)
        wanted = max(0, target - len(slot.ready) - unclaimed)
        slot.inflight += wanted
        slot.unstarted.extend([slot.generation] * wanted)
        return wanted

    def begin(self, key: PoolKey, *, is_async: bool) -> tuple[Ticket, int]:
        """A call starts: its ticket (a ready lock, a prefetch to await, or nothing), refills to start."""
        now = self._now()
        loop = _running_loop()
        # A sync call made on a running loop must not block waiting for a refill task of that loop.
        can_wait = loop is not None if is_async else loop is None
        with self._guard:
            slot = self._slot(key)
            slot.active += 1
            slot.recent.append(slot.active)
            while slot.ready:
                lease = slot.ready.popleft()
                if lease.usable_until > now:
                    self.count(lease, waited=False)
                    return Ticket(self, key, lease), self._wanted(slot)
                self._stats.wasted += 1
            if slot.inflight > len(slot.waiters) and can_wait:
                ticket = Ticket(self, key, wait=True, loop=loop if is_async else None)
                slot.waiters.append(ticket)
            else:
                ticket = Ticket(self, key)
                self.count(None, waited=False)
            return ticket, self._wanted(slot)

    def count(self, lease: Lease | None, *, waited: bool) -> None:
        with self._guard:
            if lease is None:
                self._stats.misses += 1
            else:
                self._stats.hits += 1
                self._stats.waited += waited

    def abandon(self, ticket: Ticket) -> Lease | None:
        """A call stops waiting: None when nothing was delivered yet (nothing will be), else the delivery."""
        with self._guard:
            waiters = self._slot(ticket.key).waiters
            if ticket in waiters:
                waiters.remove(ticket)
                return None
        future = ticket.future
        if future is None:
            return ticket.lease
        if future.done() and not future.cancelled():
            return future.result()
        future.cancel()  # a delivery still on its way goes back to the pool
        return None

    def restore(self, key: PoolKey, lease: Lease) -> None:
        """Put back a lease that a waiter no longer wanted (or count it wasted)."""
        with self._guard:
            slot = self._slot(key)
            if self._closed or lease.generation != slot.generation or lease.usable_until <= self._now():
                self._stats.wasted += 1
            else:
                slot.ready.appendleft(lease)

    def end(self, key: PoolKey, *, locked: bool) -> int:
        """A call completed (``locked``: it obtained a lock without error); how many refills to start."""
        with self._guard:
            slot = self._slot(key)
            slot.active -= 1
            slot.primed = slot.primed or locked
            return self._wanted(slot)

    def observed(self, key: PoolKey, lock: Any, *, prefetched: bool) -> None:
        """Count a lock response; a stack purchase pauses prefetching."""
        with self._guard:
            self._stats.lock_calls += 1
            self._stats.prefetches += prefetched
            if getattr(lock, "stack_entry_digest", None) is not None:
                self._stats.purchases += 1
                self._pause(self._slot(key), PURCHASE_PAUSE_S)

    def lock_failed(self, key: PoolKey, *, prefetched: bool) -> None:
        """A lock request failed: no prefetching for a while."""
        with self._guard:
            self._stats.lock_calls += 1
            self._stats.prefetches += prefetched
            self._pause(self._slot(key), LOCK_ERROR_PAUSE_S)

    def _pause(self, slot: _Slot, seconds: float) -> None:
        slot.paused_until = max(slot.paused_until, self._now() + seconds)

    def pooled_failed(self, key: PoolKey, exc: errors.AtomaError) -> bool:
        """A request with a pooled lock failed: drop the pool; True when a fresh lock should be tried once."""
        if not isinstance(exc, errors.APIError) or not (
            exc.status_code in _LOCK_STATUSES or exc.status_code >= 500
        ):
            return False
        if isinstance(exc, errors.NodeRejectedError):
            return False  # the node refused the request itself: a fresh lock would not change that
        with self._guard:
            slot = self._slot(key)
            self._stats.pooled_failures += 1
            self._stats.wasted += len(slot.ready)
            slot.ready.clear()
            slot.generation += 1
            slot.failures += 1
            if slot.failures >= FAILURES_BEFORE_BACKOFF:
                exponent = slot.failures - FAILURES_BEFORE_BACKOFF
                self._pause(slot, min(MAX_FAILURE_PAUSE_S, FAILURE_PAUSE_S * 2**exponent))
        return True

    def pooled_succeeded(self, key: PoolKey) -> None:
        """A request with a pooled lock went through: the failure streak ends."""
        with self._guard:
            self._slot(key).failures = 0

    def _start(self, key: PoolKey) -> tuple[int, float]:
        """A refill starts: the generation it was decided in (a pool dropped since makes its lock stale)."""
        with self._guard:
            slot = self._slot(key)
            return (slot.unstarted.popleft() if slot.unstarted else slot.generation), self._now()

    def _landed(self, key: PoolKey, generation: int, started: float, lock: Any | None) -> int:
        """A prefetch finished (``lock`` None: it failed and was counted): to a waiter, else to the pool.

        Returns how many refills to start: a lock of a dropped pool (it landed after a pooled failure) is
        replaced, since the calls that ended meanwhile counted it in flight and started none for it.
        """
        with self._guard:
            slot = self._slot(key)
            slot.inflight -= 1
            lease = None
            stale = False
            if lock is not None:
                if self._closed or generation != slot.generation:
                    self._stats.wasted += 1
                    stale = not self._closed
                else:
                    lease = Lease(lock, started + LOCK_TIMEOUT_S - SAFETY_MARGIN_S, generation)
            if slot.waiters:
                slot.waiters.popleft().deliver(lease)
            elif lease is not None:
                slot.ready.append(lease)
            return self._wanted(slot) if stale else 0

    def stats(self) -> PoolStats:
        """A snapshot of the counters."""
        with self._guard:
            snapshot = PoolStats(**self._stats.as_dict())
            snapshot.ready = sum(len(slot.ready) for slot in self._slots.values())
            snapshot.inflight = sum(slot.inflight for slot in self._slots.values())
            return snapshot

    def _drain(self) -> None:
        with self._guard:
            self._closed = True
            for slot in self._slots.values():
                self._stats.wasted += len(slot.ready)
                slot.ready.clear()
                while slot.waiters:
                    slot.waiters.popleft().deliver(None)

    # -- sync refill: on the pool's worker threads --

    def refill(self, key: PoolKey, count: int) -> None:
        """Start ``count`` prefetches on background worker threads."""
        for _ in range(count):
            self._workers.submit(lambda: self._prefetch(key))

    def _prefetch(self, key: PoolKey) -> None:
        generation, started = self._start(key)
        lock = None
        try:
            lock = self.nodes.nodes_create_lock(**key.lock_options())
            self.observed(key, lock, prefetched=True)
        except errors.AtomaError:
            self.lock_failed(key, prefetched=True)
        finally:
            more = self._landed(key, generation, started, lock)
        self.refill(key, more)

    # -- async refill: tasks on the running loop --

    def refill_async(self, key: PoolKey, count: int) -> None:
        """Start ``count`` prefetches as tasks on the running asyncio loop (threads on other loops)."""
        loop = _running_loop()
        if loop is None:
            self.refill(key, count)
            return
        for _ in range(count):
            task = loop.create_task(self._prefetch_async(key))
            with self._guard:
                self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        with self._guard:
            self._tasks.discard(task)

    async def _prefetch_async(self, key: PoolKey) -> None:
        generation, started = self._start(key)
        lock = None
        try:
            # One turn of the loop first: the call that started this refill writes its own request before
            # the refill spends CPU on the lock's (httpx's anyio streams yield once before every write).
            await asyncio.sleep(0)
            lock = await self.nodes.nodes_create_lock_async(**key.lock_options())
            self.observed(key, lock, prefetched=True)
        except errors.AtomaError:
            self.lock_failed(key, prefetched=True)
        finally:
            more = self._landed(key, generation, started, lock)
        self.refill_async(key, more)

    # -- lifecycle --

    def close(self) -> None:
        """Stop prefetching, drop ready locks, cancel refill tasks and wait for refill threads."""
        self._drain()
        threads = self._workers.stop()
        with self._guard:
            tasks = list(self._tasks)
        for task in tasks:
            _cancel(task)
        for thread in threads:
            thread.join(_JOIN_TIMEOUT_S)

    async def aclose(self) -> None:
        """Async :meth:`close`: refill tasks on this loop are cancelled and awaited."""
        self._drain()
        threads = self._workers.stop()
        with self._guard:
            tasks = list(self._tasks)
        loop = asyncio.get_running_loop()
        mine = [task for task in tasks if task.get_loop() is loop]
        for task in tasks:
            _cancel(task)
        if mine:
            await asyncio.gather(*mine, return_exceptions=True)
        if threads:
            await asyncio.to_thread(_join, threads)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _cancel(task: asyncio.Task[None]) -> None:
    loop = task.get_loop()
    if loop.is_closed():
        return
    if _running_loop() is loop:
        task.cancel()
    else:
        loop.call_soon_threadsafe(task.cancel)


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(_JOIN_TIMEOUT_S)


def pool_for(runtime: Any) -> LockPool | None:
    """The SDK instance's pool (created on first use), or None when ``lock_prefetch`` is off."""
    if not getattr(runtime.config, "lock_prefetch", False):
        return None
    runtime = _holder(runtime)
    config = runtime.config
    pool = config.lock_pool
    if pool is None:
        with _lazy_guard:
            pool = config.lock_pool
            if pool is None:
                pool = config.lock_pool = LockPool(runtime)
    assert isinstance(pool, LockPool)
    return pool


def stats_dict(runtime: Any) -> Mapping[str, int]:
    """The counters of the pool ``runtime`` uses (its own, or its original's for a ``with_options`` copy);
    all zeros while there is none."""
    pool = _holder(runtime).config.lock_pool
    return (pool.stats() if isinstance(pool, LockPool) else PoolStats()).as_dict()


def _holder(runtime: Any) -> Any:
    """The runtime whose config holds the pool: ``runtime``, or its original for a ``with_options`` copy."""
    owner = getattr(runtime.config, "lock_pool_owner", None)
    return runtime if owner is None else owner
