"""Where evidence and key-rotation nonces come from: the proxy service, Sui JSON-RPC, or your own callables.

None of these sources ever sends the Atoma bearer token (authorization and cookie headers are stripped
even from a client you pass in). Failures raise ``AttestationError`` with reason ``source-unavailable``
(``malformed-evidence`` / ``oversized`` for a bad answer).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import httpx

from atoma_sdk._runtime.jsonsafe import loads
from atoma_sdk.attestation import _http
from atoma_sdk.attestation._reasons import MALFORMED_EVIDENCE, OVERSIZED, SOURCE_UNAVAILABLE, fail
from atoma_sdk.attestation.evidence import MAX_COMPRESSED_BYTES
from atoma_sdk.errors import AttestationError, MalformedResponseError

__all__ = [
    "CallableEvidenceSource",
    "CallableRotationNonceSource",
    "EvidenceSource",
    "ProxyServiceEvidenceSource",
    "RotationNonceSource",
    "RotationState",
    "StaticRotationNonceSource",
    "SuiRotationNonceSource",
]

_MAX_EVIDENCE_RESPONSE: Final = 4 * MAX_COMPRESSED_BYTES + 4096
_MAX_RPC_RESPONSE: Final = 4 * 1024 * 1024
_MAX_EVENTS_PAGE: Final = 50
_U64_MAX: Final = 2**64 - 1


@dataclass(frozen=True)
class RotationState:
    """One key rotation: its nonce (what the evidence commits to) and, when known, its counter."""

    nonce: int
    counter: int | None = None


@runtime_checkable
class EvidenceSource(Protocol):
    """Gives a node's ``compressed_evidence`` bytes."""

    def fetch(self, node_small_id: int) -> bytes: ...

    async def fetch_async(self, node_small_id: int) -> bytes: ...


@runtime_checkable
class RotationNonceSource(Protocol):
    """Gives acceptable rotations, newest first; ``allowed_lag`` says how many older ones are wanted."""

    def rotations(self, allowed_lag: int) -> list[RotationState]: ...

    async def rotations_async(self, allowed_lag: int) -> list[RotationState]: ...


# -- shared validation --------------------------------------------------------------------------------


def _as_u64(value: Any, what: str) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U64_MAX:
        fail(SOURCE_UNAVAILABLE, f"{what} is not an unsigned 64-bit integer")
    return value


def _as_evidence(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    else:
        fail(MALFORMED_EVIDENCE, "the evidence source did not give bytes")
    if len(data) > MAX_COMPRESSED_BYTES:
        fail(OVERSIZED, "compressed evidence is larger than the limit")
    return data


def _as_rotations(value: Any) -> list[RotationState]:
    items = value if isinstance(value, (list, tuple)) else [value]
    states: list[RotationState] = []
    for item in items:
        if isinstance(item, RotationState):
            states.append(RotationState(_as_u64(item.nonce, "rotation nonce"), item.counter))
        else:
            states.append(RotationState(_as_u64(item, "rotation nonce")))
    if not states:
        fail(SOURCE_UNAVAILABLE, "the rotation nonce source gave no rotation")
    return states


def _call_failed(exc: Exception) -> AttestationError:
    if isinstance(exc, AttestationError):
        return exc
    return AttestationError(
        f"attestation {SOURCE_UNAVAILABLE}: the callable raised {type(exc).__name__}", SOURCE_UNAVAILABLE
    )


def _json(response: _http.HttpResponse, what: str) -> Any:
    """The answer's JSON (nesting, invalid UTF-8, NaN and huge numbers are refused like any non-JSON)."""
    try:
        return loads(response.body)
    except MalformedResponseError:
        pass
    fail(SOURCE_UNAVAILABLE, f"{what} did not answer JSON")


# -- proxy service -------------------------------------------------------------------------------------


def _parse_attestation_response(node_small_id: int, response: _http.HttpResponse) -> bytes:
    if response.status == 404:
        fail(SOURCE_UNAVAILABLE, "the proxy service has no attestation for this node")
    if response.status != 200:
        fail(SOURCE_UNAVAILABLE, f"the proxy service answered HTTP {response.status}")
    data = _json(response, "the proxy service")
    if not isinstance(data, dict) or data.get("node_small_id") != node_small_id:
        fail(MALFORMED_EVIDENCE, "the proxy service answered for another node or in another shape")
    raw = data.get("compressed_evidence")
    if not isinstance(raw, list) or not all(isinstance(b, int) and not isinstance(b, bool) for b in raw):
        fail(MALFORMED_EVIDENCE, "compressed_evidence is not a list of byte values")
    try:
        return _as_evidence(bytes(raw))
    except ValueError:
        fail(MALFORMED_EVIDENCE, "compressed_evidence holds values outside 0..255")


class ProxyServiceEvidenceSource:
    """``GET {base_url}/v1/get_node_attestation/{node_small_id}`` on Atoma's proxy service (no auth)."""

    def __init__(
        self,
        base_url: str,
        client: httpx.Client | None = None,
        *,
        async_client: httpx.AsyncClient | None = None,
        timeout: float = _http.DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client
        self._async_client = async_client
        self._timeout = timeout

    def _plan(self, node_small_id: int) -> _http.Plan[bytes]:
        if isinstance(node_small_id, bool) or not isinstance(node_small_id, int) or node_small_id < 0:
            fail(SOURCE_UNAVAILABLE, "node_small_id must be a non-negative integer")
        url = f"{self.base_url}/v1/get_node_attestation/{node_small_id}"
        response = yield _http.HttpRequest(url, _MAX_EVIDENCE_RESPONSE)
        return _parse_attestation_response(node_small_id, response)

    def fetch(self, node_small_id: int) -> bytes:
        """The node's compressed evidence."""
        return _http.run_plan(self._plan(node_small_id), self._client, self._timeout)

    async def fetch_async(self, node_small_id: int) -> bytes:
        """The node's compressed evidence (async)."""
        return await _http.run_plan_async(self._plan(node_small_id), self._async_client, self._timeout)


class CallableEvidenceSource:
    """Evidence from ``fn(node_small_id)``, which returns bytes (or an awaitable of bytes, async only)."""

    def __init__(self, fn: Callable[[int], bytes | Awaitable[bytes]]) -> None:
        self._fn = fn

    def fetch(self, node_small_id: int) -> bytes:
        """Call ``fn``; an awaitable result is refused here (use ``fetch_async``)."""
        try:
            result = self._fn(node_small_id)
        except Exception as exc:
            raise _call_failed(exc) from exc
        if inspect.isawaitable(result):
            getattr(result, "close", lambda: None)()
            fail(SOURCE_UNAVAILABLE, "the evidence callable is async; use verify_async")
        return _as_evidence(result)

    async def fetch_async(self, node_small_id: int) -> bytes:
        """Call ``fn`` and await its result when it is awaitable."""
        try:
            result = self._fn(node_small_id)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            raise _call_failed(exc) from exc
        return _as_evidence(result)


# -- rotation nonces -----------------------------------------------------------------------------------


class StaticRotationNonceSource:
    """A fixed rotation (e.g. the local node's reported nonce)."""

    def __init__(self, nonce: int, counter: int | None = None) -> None:
        self._states = [RotationState(_as_u64(nonce, "rotation nonce"), counter)]

    def rotations(self, allowed_lag: int) -> list[RotationState]:
        """The configured rotation."""
        return list(self._states)

    async def rotations_async(self, allowed_lag: int) -> list[RotationState]:
        """The configured rotation."""
        return list(self._states)


RotationValue = int | RotationState | Sequence[int | RotationState]


class CallableRotationNonceSource:
    """Rotations from ``fn()``: an int nonce, a :class:`RotationState`, or a list of them newest first."""

    def __init__(self, fn: Callable[[], RotationValue | Awaitable[RotationValue]]) -> None:
        self._fn = fn

    def rotations(self, allowed_lag: int) -> list[RotationState]:
        """Call ``fn``; an awaitable result is refused here (use ``rotations_async``)."""
        try:
            result = self._fn()
        except Exception as exc:
            raise _call_failed(exc) from exc
        if inspect.isawaitable(result):
            getattr(result, "close", lambda: None)()
            fail(SOURCE_UNAVAILABLE, "the rotation nonce callable is async; use verify_async")
        return _as_rotations(result)

    async def rotations_async(self, allowed_lag: int) -> list[RotationState]:
        """Call ``fn`` and await its result when it is awaitable."""
        try:
            result = self._fn()
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            raise _call_failed(exc) from exc
        return _as_rotations(result)


def _rpc_request(url: str, method: str, params: list[Any]) -> _http.HttpRequest:
    payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return _http.HttpRequest(url, _MAX_RPC_RESPONSE, json=payload)


def _rpc_result(response: _http.HttpResponse, method: str) -> Any:
    if response.status != 200:
        fail(SOURCE_UNAVAILABLE, f"Sui RPC {method} answered HTTP {response.status}")
    data = _json(response, f"Sui RPC {method}")
    if not isinstance(data, dict) or "error" in data or "result" not in data:
        fail(SOURCE_UNAVAILABLE, f"Sui RPC {method} returned an error")
    return data["result"]


def _state_from_object(result: Any) -> RotationState:
    """``sui_getObject`` result -> the AtomaDb's current (key_rotation_counter, nonce)."""
    data = result.get("data") if isinstance(result, dict) else None
    content = data.get("content") if isinstance(data, dict) else None
    fields = content.get("fields") if isinstance(content, dict) else None
    if not isinstance(fields, dict):
        fail(SOURCE_UNAVAILABLE, "sui_getObject gave no object content (wrong AtomaDb id?)")
    return RotationState(
        nonce=_as_u64(fields.get("nonce"), "AtomaDb nonce"),
        counter=_as_u64(fields.get("key_rotation_counter"), "AtomaDb key_rotation_counter"),
    )


def _states_from_events(result: Any, current: RotationState, allowed_lag: int) -> list[RotationState]:
    """``suix_queryEvents`` result -> older rotations within the lag, newest first, after ``current``."""
    events = result.get("data") if isinstance(result, dict) else None
    if not isinstance(events, list):
        fail(SOURCE_UNAVAILABLE, "suix_queryEvents gave no event list")
    newest = current.counter if current.counter is not None else 0
    oldest = newest - allowed_lag
    found: dict[int, RotationState] = {}
    for event in events:
        parsed = event.get("parsedJson") if isinstance(event, dict) else None
        if not isinstance(parsed, dict) or "nonce" not in parsed:
            continue
        counter = _as_u64(parsed.get("key_rotation_counter"), "event key_rotation_counter")
        if oldest <= counter < newest:
            found.setdefault(counter, RotationState(_as_u64(parsed["nonce"], "event nonce"), counter))
    return [current, *(found[counter] for counter in sorted(found, reverse=True))]


class SuiRotationNonceSource:
    """The AtomaDb object's current rotation over Sui JSON-RPC, plus older ones from events for a lag.

    Current value: ``sui_getObject(atoma_db_object_id, {"showContent": true})`` fields
    ``key_rotation_counter`` and ``nonce``. With ``allowed_lag > 0`` and ``package_id`` set, earlier
    rotations come from ``suix_queryEvents`` on ``{package_id}::db::NewKeyRotationEvent`` (newest first).
    Answers are reused for ``cache_ttl`` seconds.
    """

    def __init__(
        self,
        rpc_url: str,
        atoma_db_object_id: str,
        *,
        package_id: str | None = None,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        timeout: float = _http.DEFAULT_TIMEOUT,
        cache_ttl: float = 10.0,
    ) -> None:
        self.rpc_url = rpc_url
        self.atoma_db_object_id = atoma_db_object_id
        self.package_id = package_id
        self._client = client
        self._async_client = async_client
        self._timeout = timeout
        self._cache_ttl = cache_ttl
        self._cached: dict[int, tuple[float, list[RotationState]]] = {}
        self._lock = threading.Lock()

    def _plan(self, allowed_lag: int) -> _http.Plan[list[RotationState]]:
        with self._lock:
            hit = self._cached.get(allowed_lag)
        if hit is not None and hit[0] > time.monotonic():
            return list(hit[1])
        params: list[Any] = [self.atoma_db_object_id, {"showContent": True}]
        response = yield _rpc_request(self.rpc_url, "sui_getObject", params)
        current = _state_from_object(_rpc_result(response, "sui_getObject"))
        states = [current]
        if allowed_lag > 0 and self.package_id:
            event_filter = {"MoveEventType": f"{self.package_id}::db::NewKeyRotationEvent"}
            limit = min(_MAX_EVENTS_PAGE, allowed_lag + 1)
            response = yield _rpc_request(self.rpc_url, "suix_queryEvents", [event_filter, None, limit, True])
            states = _states_from_events(_rpc_result(response, "suix_queryEvents"), current, allowed_lag)
        with self._lock:
            self._cached[allowed_lag] = (time.monotonic() + self._cache_ttl, states)
        return list(states)

    def rotations(self, allowed_lag: int) -> list[RotationState]:
        """Current rotation first, then older ones within ``allowed_lag`` (when ``package_id`` is set)."""
        return _http.run_plan(self._plan(allowed_lag), self._client, self._timeout)

    async def rotations_async(self, allowed_lag: int) -> list[RotationState]:
        """Async twin of :meth:`rotations`."""
        return await _http.run_plan_async(self._plan(allowed_lag), self._async_client, self._timeout)
