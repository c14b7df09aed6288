"""Raw responses: ``resource.with_raw_response.method(...)`` returns a :class:`RawResponse` around the result.

Any resource method works unchanged: while it runs, a recorder in a context variable notes the successful
attempts the hook chain sees (:func:`note_request` / :func:`note_success`, called by ``Hooks``). Only the
calling thread or task records, so lock prefetching in the background never lands in a call's record. The
record keeps status, response headers and timing, never the request (whose headers carry the token).

For the plaintext form of a confidential call the response is the confidential request's, and
``lock_response`` the lock that request used (None when it used a pooled lock).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, Generic, TypeVar

import httpx

from .. import errors

__all__ = ["RawResponse", "RawResponses", "note_request", "note_success"]

T = TypeVar("T")

#: The operation whose answers are locks (a confidential call's first round trip).
LOCK_OPERATION = "nodes_create_lock"


class RawResponse(Generic[T]):
    """The HTTP side of one successful call (after retries: the successful attempt's) and its result.

    ``status_code``, ``headers`` (the response's), ``request_id`` (from the usual request-id headers),
    ``elapsed`` (request sent to response headers received), ``lock_response`` (confidential calls) and
    :meth:`parse`, the usual result (receipt included; for streams, the open stream).
    """

    __slots__ = ("_result", "elapsed", "headers", "lock_response", "request_id", "status_code")

    def __init__(
        self,
        status_code: int,
        headers: httpx.Headers,
        elapsed: timedelta,
        result: T,
        lock_response: RawResponse[Any] | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.elapsed = elapsed
        self.request_id = errors.request_id(headers)
        self.lock_response = lock_response
        self._result = result

    def parse(self) -> T:
        """The result the method returns without ``with_raw_response``."""
        return self._result

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            RawResponse,
            (self.status_code, httpx.Headers(list(self.headers.multi_items())), self.elapsed, self._result,
             self.lock_response),
        )

    def __repr__(self) -> str:
        return f"<RawResponse [{self.status_code}] request_id={self.request_id!r}>"


class _Seen:
    """One successful attempt: what a RawResponse keeps of it."""

    __slots__ = ("elapsed", "headers", "status_code")

    def __init__(self, response: httpx.Response, elapsed: float) -> None:
        self.status_code = response.status_code
        self.headers = httpx.Headers(list(response.headers.multi_items()))
        self.elapsed = timedelta(seconds=max(0.0, elapsed))

    def raw(self, result: Any, lock: RawResponse[Any] | None = None) -> RawResponse[Any]:
        return RawResponse(self.status_code, self.headers, self.elapsed, result, lock)


class _Recorder:
    """The successful attempts of one ``with_raw_response`` call (its own thread or task only)."""

    def __init__(self) -> None:
        self.owner = _owner()
        self.started: dict[str, float] = {}
        self.pending_lock: _Seen | None = None  # a lock answered since the last non-lock request
        self.request_lock: _Seen | None = None  # the lock in use when the last non-lock request was sent
        self.main: _Seen | None = None
        self.main_lock: _Seen | None = None
        self.last_lock: _Seen | None = None

    def request(self, operation_id: str) -> None:
        self.started[operation_id] = time.monotonic()
        if operation_id != LOCK_OPERATION:
            self.request_lock, self.pending_lock = self.pending_lock, None

    def success(self, operation_id: str, response: httpx.Response) -> None:
        seen = _Seen(response, time.monotonic() - self.started.get(operation_id, time.monotonic()))
        if operation_id == LOCK_OPERATION:
            self.pending_lock = self.last_lock = seen
        else:
            self.main, self.main_lock = seen, self.request_lock

    def result(self, result: T) -> RawResponse[T]:
        if self.main is not None:
            lock = self.main_lock.raw(None) if self.main_lock is not None else None
            return self.main.raw(result, lock)
        if self.last_lock is not None:  # the call was a lock itself
            return self.last_lock.raw(result)
        raise errors.AtomaError("the call made no HTTP request, so it has no raw response")


_ACTIVE: ContextVar[_Recorder | None] = ContextVar("atoma_sdk_raw_recorder", default=None)


def _owner() -> object:
    """The running asyncio task, else the thread: background work started by a call is someone else."""
    try:
        import asyncio

        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return task if task is not None else threading.get_ident()


def _recorder() -> _Recorder | None:
    recorder = _ACTIVE.get()
    return recorder if recorder is not None and recorder.owner == _owner() else None


def note_request(operation_id: str) -> None:
    """An attempt of ``operation_id`` is about to be sent (after the before-request hooks)."""
    recorder = _recorder()
    if recorder is not None:
        recorder.request(operation_id)


def note_success(operation_id: str, response: httpx.Response) -> None:
    """An attempt of ``operation_id`` succeeded with ``response`` (after the after-success hooks)."""
    recorder = _recorder()
    if recorder is not None:
        recorder.success(operation_id, response)


class RawResponses:
    """``resource.with_raw_response``: the resource's methods, each returning a :class:`RawResponse`."""

    __slots__ = ("_resource",)

    def __init__(self, resource: object) -> None:
        self._resource = resource

    def __getattr__(self, name: str) -> Callable[..., Any]:
        import inspect

        method = getattr(self._resource, name)
        if name.startswith("_") or not callable(method):
            raise AttributeError(f"with_raw_response has no method {name!r}")
        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def call_async(*args: Any, **kwargs: Any) -> RawResponse[Any]:
                with _recording() as recorder:
                    result = await method(*args, **kwargs)
                return recorder.result(result)

            return _signed(call_async, method)

        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> RawResponse[Any]:
            with _recording() as recorder:
                result = method(*args, **kwargs)
            return recorder.result(result)

        return _signed(call, method)


def _signed(wrapper: Callable[..., Any], method: Callable[..., Any]) -> Callable[..., Any]:
    """``wrapper`` shows the bound ``method``'s parameters (a bound method would lend its ``self`` too)."""
    func = getattr(method, "__func__", None)
    if func is not None:
        wrapper.__signature__ = _without_self(func)  # type: ignore[attr-defined]
    return wrapper


@functools.lru_cache(maxsize=256)
def _without_self(func: Callable[..., Any]) -> Any:
    import inspect

    signature = inspect.signature(func)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


@contextmanager
def _recording() -> Iterator[_Recorder]:
    """Record the calling thread's or task's attempts until the block ends."""
    recorder = _Recorder()
    token = _ACTIVE.set(recorder)
    try:
        yield recorder
    finally:
        _ACTIVE.reset(token)
