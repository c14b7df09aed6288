"""Sync refills run on the pool's kept worker threads: a refill is a queue put, not a thread start."""

from __future__ import annotations

import os
import threading

import pytest

from atoma_sdk.confidential.lockpool import _Workers


def run_one(workers: _Workers, seen: list[int]) -> None:
    done = threading.Event()

    def job() -> None:
        seen.append(threading.get_ident())
        done.set()

    workers.submit(job)
    assert done.wait(10)


def test_one_worker_serves_refills_one_after_another() -> None:
    workers, seen = _Workers(), list[int]()
    for _ in range(5):
        run_one(workers, seen)
    assert len(set(seen)) == 1
    for thread in workers.stop():
        thread.join(10)
        assert not thread.is_alive()


def test_concurrent_refills_get_a_worker_each_and_stop_ends_them() -> None:
    workers = _Workers()
    release = threading.Event()
    started = threading.Barrier(4)

    def job() -> None:
        started.wait(10)  # all three jobs run at once (the test thread is the fourth party)
        release.wait(10)

    for _ in range(3):
        workers.submit(job)
    started.wait(10)
    threads = workers.stop()
    assert len(threads) == 3 and all(thread.name == "atoma-lock-prefetch" for thread in threads)
    release.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_workers_of_its_own() -> None:
    workers, seen = _Workers(), list[int]()
    run_one(workers, seen)  # the parent's worker now waits idle
    child = os.fork()
    if child == 0:  # the child has no thread of the parent's: a refill must start one
        done = threading.Event()
        workers.submit(done.set)
        os._exit(0 if done.wait(10) else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    workers.stop()
