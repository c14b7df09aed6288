"""The only I/O in this package: one HTTP exchange, sync or async, size-capped, never authenticated.

Sources describe what to send as an :class:`HttpRequest` from a plan (a generator that yields requests
and receives :class:`HttpResponse` objects); :func:`run_plan` / :func:`run_plan_async` drive it, so every
decision lives in the plan and the two shells only differ in ``await``.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Final, NoReturn, TypeVar

import httpx

from atoma_sdk import errors
from atoma_sdk._runtime import netdeadline
from atoma_sdk._runtime.bounded import ACCEPT_ENCODING, aread_body, read_body
from atoma_sdk.attestation._reasons import MALFORMED_EVIDENCE, OVERSIZED, SOURCE_UNAVAILABLE, fail

DEFAULT_TIMEOUT: Final = 10.0
_STRIPPED_HEADERS: Final = ("authorization", "proxy-authorization", "cookie")

T = TypeVar("T")


@dataclass(frozen=True)
class HttpRequest:
    """What to send: ``json`` is the body for a POST (None means GET); ``limit`` caps the body read."""

    url: str
    limit: int
    json: Any = None


@dataclass(frozen=True)
class HttpResponse:
    """A status and the (capped) body bytes."""

    status: int
    body: bytes


Plan = Generator[HttpRequest, HttpResponse, T]


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One default-verifying TLS context, shared by the transient clients (building one is slow)."""
    return httpx.create_ssl_context()


def _build(client: httpx.Client | httpx.AsyncClient, request: HttpRequest) -> httpx.Request:
    method = "GET" if request.json is None else "POST"
    headers = {"Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
    built = client.build_request(method, request.url, json=request.json, headers=headers)
    for name in _STRIPPED_HEADERS:
        built.headers.pop(name, None)
    return built


def _too_large(limit: int) -> NoReturn:
    fail(OVERSIZED, f"the response body is larger than {limit} bytes")


def _transport(transport: httpx.BaseTransport | httpx.AsyncBaseTransport) -> Any:
    netdeadline.install(transport)  # a confidential unit's deadline bounds its attestation fetches too
    return transport


def _undecodable() -> NoReturn:
    fail(MALFORMED_EVIDENCE, "the response body uses an encoding the SDK refuses or is corrupt")


def _unavailable(exc: Exception) -> NoReturn:
    fail(SOURCE_UNAVAILABLE, f"request failed ({type(exc).__name__})")


def send(client: httpx.Client | None, request: HttpRequest, timeout: float) -> HttpResponse:
    """One synchronous exchange; a transient client is used when ``client`` is None."""
    if client is None:
        transport = _transport(httpx.HTTPTransport(verify=_ssl_context()))
        with httpx.Client(timeout=timeout, transport=transport) as transient:
            return send(transient, request, timeout)
    try:
        response = client.send(_build(client, request), stream=True, auth=None, follow_redirects=False)
        return HttpResponse(response.status_code, read_body(response, request.limit))  # decoded size capped
    except httpx.HTTPError as exc:
        _unavailable(exc)
    except errors.ResponseTooLargeError:
        _too_large(request.limit)
    except errors.MalformedResponseError:
        _undecodable()


async def send_async(client: httpx.AsyncClient | None, request: HttpRequest, timeout: float) -> HttpResponse:
    """One asynchronous exchange; a transient client is used when ``client`` is None."""
    if client is None:
        transport = _transport(httpx.AsyncHTTPTransport(verify=_ssl_context()))
        async with httpx.AsyncClient(timeout=timeout, transport=transport) as transient:
            return await send_async(transient, request, timeout)
    try:
        response = await client.send(_build(client, request), stream=True, auth=None, follow_redirects=False)
        return HttpResponse(response.status_code, await aread_body(response, request.limit))
    except httpx.HTTPError as exc:
        _unavailable(exc)
    except errors.ResponseTooLargeError:
        _too_large(request.limit)
    except errors.MalformedResponseError:
        _undecodable()


def run_plan(plan: Plan[T], client: httpx.Client | None, timeout: float) -> T:
    """Drive ``plan`` with synchronous I/O and return its result."""
    try:
        request = next(plan)
        while True:
            request = plan.send(send(client, request, timeout))
    except StopIteration as done:
        result: T = done.value
        return result


async def run_plan_async(plan: Plan[T], client: httpx.AsyncClient | None, timeout: float) -> T:
    """Drive ``plan`` with asynchronous I/O and return its result."""
    try:
        request = next(plan)
        while True:
            request = plan.send(await send_async(client, request, timeout))
    except StopIteration as done:
        result: T = done.value
        return result
