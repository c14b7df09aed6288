"""The call engine: build a request, send it with hooks and retries, map failures, parse the answer.

Every decision (headers, timeouts, what a failure means, whether and when to retry) is made by plain methods
shared by the sync and async paths; :meth:`Runtime.send` and :meth:`Runtime.send_async` only do the I/O.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pydantic

from .. import errors
from ..types import UNSET
from . import deadline, redact
from .bounded import ACCEPT_ENCODING, ERROR_BODY_LIMIT, aread_body, limit_for, read_body
from .clients import ClientPool, build_request, request_timeout, send, send_async
from .config import SDKConfig, check_headers
from .hooks import HookContext, Hooks
from .logs import RequestLog, current_attempt, resolve_logger
from .operation import Operation, RequestOptions, RetryRule
from .retrying import RetryState
from .serde import decode_response, describe_validation_error, encode_request, parse_json

if TYPE_CHECKING:
    from .eventstream import EventStream, EventStreamAsync
    from .sse import ServerSentEvent

__all__ = ["Runtime", "map_transport_error"]

T = TypeVar("T")

_NO_OPTIONS = RequestOptions()


def map_transport_error(exc: httpx.TransportError) -> errors.APIConnectionError:
    """The typed SDK error for an httpx transport failure (the message names only the failure kind)."""
    if isinstance(exc, httpx.TimeoutException):
        return errors.APITimeoutError(f"request timed out ({type(exc).__name__})")
    return errors.APIConnectionError(f"connection failed ({type(exc).__name__})")


class Runtime:
    """Sends the operations of one SDK instance (one per ``AtomaSDK``; safe to share between threads).

    ``clock``, ``wall_clock``, ``rng``, ``sleep`` and ``async_sleep`` feed every :class:`RetryState` this
    runtime creates; tests replace them to run retries without waiting.
    """

    def __init__(
        self, config: SDKConfig, clients: ClientPool | None = None, hooks: Hooks | None = None
    ) -> None:
        self.config = config
        self.clients = clients if clients is not None else ClientPool()
        self.hooks = hooks if hooks is not None else Hooks()
        self.log = RequestLog(resolve_logger(config.debug_logger))
        self.clock: Callable[[], float] = time.monotonic
        self.wall_clock: Callable[[], float] = time.time
        self.rng: Callable[[], float] = random.random
        self.sleep: Callable[[float], None] = time.sleep
        self.async_sleep: Callable[[float], Awaitable[None]] | None = None
        self._urls: dict[tuple[str, str], httpx.URL] = {}
        self._header_sets: dict[tuple[Any, ...], tuple[Any, dict[str, str], dict[str, str]]] = {}

    # -- public API ------------------------------------------------------------------------------------------

    def call(self, op: Operation[T], params: Mapping[str, Any], options: RequestOptions = _NO_OPTIONS) -> T:
        """Send a JSON operation and return its parsed response model."""
        body = encode_request(op.request, params, options.extra_body)
        response = self.send(op, body, options)
        result: T = decode_response(op.response, response.content, response)
        return result

    async def call_async(
        self, op: Operation[T], params: Mapping[str, Any], options: RequestOptions = _NO_OPTIONS
    ) -> T:
        """Async :meth:`call`."""
        body = encode_request(op.request, params, options.extra_body)
        response = await self.send_async(op, body, options)
        result: T = decode_response(op.response, response.content, response)
        return result

    def stream(
        self, op: Operation[T], params: Mapping[str, Any], options: RequestOptions = _NO_OPTIONS
    ) -> EventStream[T]:
        """Open an SSE operation (retrying only while opening) and return its event stream."""
        from .eventstream import EventStream

        body = encode_request(op.request, params, options.extra_body)
        response = self.send(op, body, options, stream=True)
        decode = self._decoder(op, response)
        return EventStream[T](response, decode, sentinel=op.sentinel, **self.stream_settings(op))

    async def stream_async(
        self, op: Operation[T], params: Mapping[str, Any], options: RequestOptions = _NO_OPTIONS
    ) -> EventStreamAsync[T]:
        """Async :meth:`stream`."""
        from .eventstream import EventStreamAsync

        body = encode_request(op.request, params, options.extra_body)
        response = await self.send_async(op, body, options, stream=True)
        decode = self._decoder(op, response)
        return EventStreamAsync[T](response, decode, sentinel=op.sentinel, **self.stream_settings(op))

    def stream_settings(self, op: Operation[Any]) -> dict[str, Any]:
        """Keyword arguments of an event stream of ``op``: idle timeout, total deadline, total byte cap."""
        config = self.config
        return {
            "idle_timeout": config.stream_idle_timeout_s,
            "total_timeout": config.stream_deadline_s,
            "max_total_bytes": limit_for(op.operation_id, config.response_limits, stream=True),
        }

    def retry_state(
        self, op: Operation[Any], options: RequestOptions = _NO_OPTIONS, *, rule: RetryRule | None = None
    ) -> RetryState:
        """A fresh retry state for one logical call (per-call ``retries`` override the SDK's)."""
        config = self.config.retry_config if options.retries is UNSET else options.retries
        return RetryState(
            config,  # type: ignore[arg-type]
            rule or op.retry_rule,
            clock=self.clock,
            wall_clock=self.wall_clock,
            rng=self.rng,
            sleep=self.sleep,
            async_sleep=self.async_sleep,
        )

    def send(
        self,
        op: Operation[Any],
        body: bytes | None,
        options: RequestOptions = _NO_OPTIONS,
        *,
        stream: bool = False,
        retry: bool = True,
    ) -> httpx.Response:
        """Send ``body`` with hooks (and retries if ``retry``); return a 2XX response or raise a typed error.

        With ``stream=True`` the 2XX response is returned unread (the caller must close it).
        """
        client = self.clients.sync()
        state = self.retry_state(op, options) if retry else self._no_retry(op)
        while True:
            ctx, request = self._prepare(client, op, body, options, stream=stream, state=state)
            started = self.clock()
            try:
                with deadline.scope(self.attempt_seconds(options)):
                    # Always unread and never redirected; the body is read here, capped (streams: on error).
                    response = send(client, request, owned=self.clients.owns_client)
                    if not stream or response.status_code >= 300:
                        read_body(response, self._cap(op, response), truncate=response.status_code >= 300)
            except httpx.TransportError as exc:
                redact.scrub(request)  # before hooks and logs see the error
                delay = self._after_exception(ctx, state, exc, started)
            else:
                redact.scrub(request, response)
                success, delay = self._after_response(ctx, state, response, started)
                if success is not None:
                    return success
            finally:
                redact.scrub(request)  # also when the body was refused (too large, undecodable)
                del request  # no token in this frame's locals, whatever propagates
            state.sleep(delay)

    async def send_async(
        self,
        op: Operation[Any],
        body: bytes | None,
        options: RequestOptions = _NO_OPTIONS,
        *,
        stream: bool = False,
        retry: bool = True,
    ) -> httpx.Response:
        """Async :meth:`send`."""
        client = self.clients.async_()
        state = self.retry_state(op, options) if retry else self._no_retry(op)
        while True:
            ctx, request = self._prepare(client, op, body, options, stream=stream, state=state)
            started = self.clock()
            try:
                async with self.clients.request_slot():
                    with deadline.scope(self.attempt_seconds(options)):
                        response = await send_async(client, request, owned=self.clients.owns_async_client)
                        if not stream or response.status_code >= 300:
                            await aread_body(
                                response, self._cap(op, response), truncate=response.status_code >= 300
                            )
            except httpx.TransportError as exc:
                redact.scrub(request)  # before hooks and logs see the error
                delay = self._after_exception(ctx, state, exc, started)
            else:
                redact.scrub(request, response)
                success, delay = self._after_response(ctx, state, response, started)
                if success is not None:
                    return success
            finally:
                redact.scrub(request)
                del request
            await state.async_sleep(delay)

    # -- shared decisions ------------------------------------------------------------------------------------

    def attempt_seconds(self, options: RequestOptions) -> float | None:
        """The deadline of one attempt (a confidential unit: lock + send + read) in seconds: ``timeout_ms``
        of the call, else of the SDK (None: none)."""
        timeout_ms = options.timeout_ms if options.timeout_ms is not None else self.config.timeout_ms
        return None if timeout_ms is None else timeout_ms / 1000.0

    def _cap(self, op: Operation[Any], response: httpx.Response) -> int:
        """The most decoded bytes read of this answer's body (2XX: per operation; errors: 1 MiB)."""
        if response.status_code >= 300:
            return ERROR_BODY_LIMIT
        return limit_for(op.operation_id, self.config.response_limits)

    def _no_retry(self, op: Operation[Any]) -> RetryState:
        return RetryState(None, op.retry_rule, clock=self.clock)

    def _prepare(
        self,
        client: httpx.Client | httpx.AsyncClient,
        op: Operation[Any],
        body: bytes | None,
        options: RequestOptions,
        *,
        stream: bool,
        state: RetryState,
    ) -> tuple[HookContext, httpx.Request]:
        """Build the request of one attempt and run the before-request hooks on it."""
        base_url = options.server_url.rstrip("/") if options.server_url else self.config.server_url
        ctx = HookContext(op.operation_id, base_url, current_attempt(state.attempt), op.method, op.path)
        timeout_ms = options.timeout_ms if options.timeout_ms is not None else self.config.timeout_ms
        timeout = request_timeout(
            self.config.http_timeout or client.timeout, timeout_ms, stream=stream,
            idle_timeout_s=self.config.stream_idle_timeout_s,
        )
        request = build_request(
            client, op.method, self._url(base_url, op.path), body, self._headers(op, body, options, stream),
            timeout,
        )
        return ctx, self.hooks.before_request(ctx, request)

    def _headers(
        self, op: Operation[Any], body: bytes | None, options: RequestOptions, stream: bool
    ) -> dict[str, str]:
        # Every part is checked on its own (the call's headers first, before this frame holds the token):
        # the merged set needs no second pass.
        extra = check_headers(options.http_headers, "http_headers") if options.http_headers else None
        head, tail = self._fixed_headers(stream, body is not None)
        token = self.config.token() if op.security else None
        if token:
            if not redact.valid_header_text(token):
                token = None
                redact.refuse("Authorization")
            headers = {**head, "Authorization": f"Bearer {token}", **tail}
        else:
            headers = {**head, **tail}
        if extra:
            headers.update(extra)
        return headers

    def _fixed_headers(self, stream: bool, has_body: bool) -> tuple[dict[str, str], dict[str, str]]:
        """The headers before and after ``Authorization`` that only depend on the settings: built and
        checked once per settings (the config is a plain dataclass: its fields are read, not trusted)."""
        config = self.config
        key = (stream, has_body, config.user_agent, id(config.default_headers))
        cached = self._header_sets.get(key)
        if cached is not None and cached[0] is config.default_headers:
            return cached[1], cached[2]
        head = {
            "User-Agent": config.user_agent,
            "Accept": "text/event-stream" if stream else "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        if has_body:
            head["Content-Type"] = "application/json"
        tail = dict(config.default_headers or {})
        redact.check_headers({**head, **tail})
        if len(self._header_sets) >= 16:  # settings changed in place many times: start over
            self._header_sets.clear()
        self._header_sets[key] = (config.default_headers, head, tail)
        return head, tail

    def _url(self, base_url: str, path: str) -> httpx.URL:
        """The parsed URL of ``base_url + path``, parsed once (httpx re-parses a string per request)."""
        key = (base_url, path)
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) >= 256:
                self._urls.clear()
            url = self._urls[key] = httpx.URL(base_url + path)
        return url

    def _after_response(
        self, ctx: HookContext, state: RetryState, response: httpx.Response, started: float
    ) -> tuple[httpx.Response | None, float]:
        """``(response, 0)`` on success, ``(None, delay)`` to retry; raises the final typed error."""
        self.log.response(ctx.method, ctx.path, response.status_code, ctx.attempt, self.clock() - started)
        if response.status_code < 300:
            return self.hooks.after_success(ctx, response), 0.0
        hooked, error = self.hooks.after_error(ctx, response, None)
        if error is None:
            if hooked is not None and hooked.status_code < 300:
                return hooked, 0.0
            final = hooked if hooked is not None else response
            error = errors.error_for_status(final.status_code, final.content, final, final.headers)
        delay = state.delay_for_exception(error)
        if delay is None:
            raise error
        self.log.retry(f"{ctx.method} {ctx.path}", state.attempt, error, delay)
        return None, delay

    def _after_exception(
        self, ctx: HookContext, state: RetryState, exc: httpx.TransportError, started: float
    ) -> float:
        """The delay before the next attempt after a transport failure; raises the final typed error."""
        self.log.failure(ctx.method, ctx.path, exc, ctx.attempt, self.clock() - started)
        _, error = self.hooks.after_error(ctx, None, exc)
        error = error if error is not None else exc
        delay = state.delay_for_exception(error)
        if delay is None:
            if isinstance(error, httpx.TransportError):
                raise map_transport_error(error) from error
            raise error
        self.log.retry(f"{ctx.method} {ctx.path}", state.attempt, error, delay)
        return delay

    def _decoder(self, op: Operation[Any], response: httpx.Response) -> Callable[[ServerSentEvent], Any]:
        """Turn one SSE event into a stream item (None skips it). Error events are the stream's business."""
        name = op.response

        def decode(event: ServerSentEvent) -> Any:
            data = event.data
            if not data or name is None:
                return None
            try:
                return parse_json(name, data)
            except pydantic.ValidationError as exc:
                message = f"stream event does not match {name}: {describe_validation_error(exc)}"
            # Outside the handler: no __context__ keeps the pydantic error and the event in its inputs.
            raise errors.ResponseValidationError(message, response) from None

        return decode
