"""In-memory stack locks, as the proxy keeps them (protocol.md §6): one lock per confidential request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class _Lock:
    units: int
    expires_at: float


class LockTable:
    """Locks per ``stack_small_id``; a request consumes one unexpired lock with enough units."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: dict[int, list[_Lock]] = {}

    def add(self, stack_small_id: int, units: int, ttl: float) -> None:
        with self._guard:
            self._locks.setdefault(stack_small_id, []).append(_Lock(units, self._clock() + ttl))

    def consume(self, stack_small_id: int, units: int) -> bool:
        """Remove and report the first unexpired lock on the stack holding at least ``units``."""
        now = self._clock()
        with self._guard:
            live = [lock for lock in self._locks.get(stack_small_id, ()) if lock.expires_at > now]
            for index, lock in enumerate(live):
                if lock.units >= units:
                    del live[index]
                    self._locks[stack_small_id] = live
                    return True
            self._locks[stack_small_id] = live
            return False

    def count(self, stack_small_id: int) -> int:
        """How many unexpired locks the stack holds (for tests and the admin route)."""
        now = self._clock()
        with self._guard:
            return sum(1 for lock in self._locks.get(stack_small_id, ()) if lock.expires_at > now)
