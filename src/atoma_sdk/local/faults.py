"""Fault injection for the local node, in-process (``node.faults``) or over the admin route.

Rules apply to the next ``n`` matching requests (``route=None`` matches every route; otherwise the exact
path, e.g. ``/v1/nodes/lock``). ``fail`` and ``delay`` match any route; the response faults (``drop``,
``truncate``, ``corrupt``, ``plaintext``, ``reflect``, ``rotate_key``) match confidential requests only,
and ``drop`` / ``truncate`` streamed ones only. ``rtt_ms`` delays every request until changed.

Admin JSON (``POST /_admin/faults``): one object or a list of objects with a ``kind`` and its fields::

    {"kind": "fail", "n": 2, "status": 503, "retry_after": 1, "route": "/v1/nodes/lock"}
    {"kind": "fail", "status": 400, "code": "FIAT_PAYMENTS_ONLY"}   (the proxy's message for that code)
    {"kind": "rtt", "ms": 40}                {"kind": "delay", "ms": 200, "n": 1}
    {"kind": "drop", "after": 2}             {"kind": "truncate", "after": 3}
    {"kind": "corrupt", "index": 0}          {"kind": "plaintext", "index": 1}
    {"kind": "reflect"}                      {"kind": "rotate_key"}            {"kind": "clear"}
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_RESPONSE_KINDS = frozenset({"drop", "truncate", "corrupt", "plaintext", "reflect", "rotate_key"})
_STREAM_ONLY = frozenset({"drop", "truncate"})


class FaultSpecError(ValueError):
    """An admin fault specification that cannot be applied."""


@dataclass(frozen=True, slots=True)
class Failure:
    """An injected error answer."""

    status: int
    retry_after: float | None = None
    message: str | None = None
    code: str | None = None


@dataclass(slots=True)
class FaultPlan:
    """What the faults say about one request."""

    delay: float = 0.0
    fail: Failure | None = None
    drop_after: int | None = None
    truncate_after: int | None = None
    corrupt_index: int | None = None
    plaintext_index: int | None = None
    reflect: bool = False
    rotate_key: bool = False


@dataclass(slots=True)
class _Rule:
    kind: str
    remaining: int
    route: str | None
    value: Any = None

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "remaining": self.remaining,
            "route": self.route,
            "value": _plain(self.value),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Failure):
        return {
            "status": value.status,
            "retry_after": value.retry_after,
            "message": value.message,
            "code": value.code,
        }
    return value


@dataclass
class Faults:
    """Thread-safe fault rules, shared by the node's event loop and the controlling test."""

    rtt_ms: float = 0.0
    _rules: list[_Rule] = field(default_factory=list)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def _add(self, kind: str, n: int, route: str | None, value: Any = None) -> None:
        if n < 1:
            raise FaultSpecError("n must be at least 1")
        with self._guard:
            self._rules.append(_Rule(kind, n, route, value))

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 503,
        retry_after: float | None = None,
        message: str | None = None,
        route: str | None = None,
        code: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``Retry-After`` when given).

        ``code`` replaces the proxy's code for the status, e.g. ``status=400, code="FIAT_PAYMENTS_ONLY"``
        (message "Only fiat payments are supported" unless ``message`` is given).
        """
        if not 400 <= status <= 599:
            raise FaultSpecError("status must be a 4XX or 5XX code")
        self._add("fail", n, route, Failure(status, retry_after, message, code))

    def delay_next(self, ms: float, n: int = 1, *, route: str | None = None) -> None:
        """Delay the next ``n`` requests by ``ms`` milliseconds (on top of ``rtt_ms``)."""
        self._add("delay", n, route, float(ms))

    def set_rtt(self, ms: float) -> None:
        """Delay every request by ``ms`` milliseconds (a simulated round-trip time); 0 turns it off."""
        self.rtt_ms = float(ms)

    def drop_after(self, chunks: int, *, n: int = 1, route: str | None = None) -> None:
        """Abort the connection of the next ``n`` streams after ``chunks`` data events."""
        self._add("drop", n, route, chunks)

    def truncate_after(self, chunks: int, *, n: int = 1, route: str | None = None) -> None:
        """End the next ``n`` streams cleanly after ``chunks`` data events (no usage chunk)."""
        self._add("truncate", n, route, chunks)

    def corrupt_chunk(self, index: int = 0, *, n: int = 1, route: str | None = None) -> None:
        """Flip a ciphertext byte in chunk ``index`` (or in a non-streamed answer)."""
        self._add("corrupt", n, route, index)

    def plaintext_chunk(self, index: int = 0, *, n: int = 1, route: str | None = None) -> None:
        """Send chunk ``index`` (or a non-streamed answer) unencrypted."""
        self._add("plaintext", n, route, index)

    def reflect_next(self, n: int = 1, *, route: str | None = None) -> None:
        """Send the request's own ciphertext back as the answer (validly signed over its hash)."""
        self._add("reflect", n, route)

    def rotate_key_next(self, n: int = 1, *, route: str | None = None) -> None:
        """Rotate the node key after the next request's lock was consumed (it then fails with 500)."""
        self._add("rotate_key", n, route)

    def clear(self) -> None:
        """Remove every rule and the round-trip delay."""
        with self._guard:
            self._rules.clear()
        self.rtt_ms = 0.0

    def pending(self) -> list[dict[str, Any]]:
        """The rules still waiting for requests."""
        with self._guard:
            return [rule.describe() for rule in self._rules]

    def take_request(self, route: str) -> FaultPlan:
        """Consume the ``fail`` / ``delay`` rules that match a request as it arrives."""
        plan = FaultPlan(delay=self.rtt_ms / 1000.0)
        for rule in self._consume(route, lambda kind: kind in ("fail", "delay")):
            if rule.kind == "delay":
                plan.delay += rule.value / 1000.0
            else:
                plan.fail = rule.value
        return plan

    def take_response(self, route: str, *, streamed: bool, plan: FaultPlan) -> None:
        """Consume the response rules that match a confidential request into ``plan``."""

        def applies(kind: str) -> bool:
            return kind in _RESPONSE_KINDS and (streamed or kind not in _STREAM_ONLY)

        for rule in self._consume(route, applies):
            if rule.kind == "drop":
                plan.drop_after = rule.value
            elif rule.kind == "truncate":
                plan.truncate_after = rule.value
            elif rule.kind == "corrupt":
                plan.corrupt_index = rule.value
            elif rule.kind == "plaintext":
                plan.plaintext_index = rule.value
            elif rule.kind == "reflect":
                plan.reflect = True
            else:
                plan.rotate_key = True

    def _consume(self, route: str, applies: Any) -> list[_Rule]:
        taken: list[_Rule] = []
        seen: set[str] = set()
        with self._guard:
            for rule in list(self._rules):
                if rule.kind in seen or not applies(rule.kind) or rule.route not in (None, route):
                    continue
                seen.add(rule.kind)
                taken.append(rule)
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._rules.remove(rule)
        return taken

    def apply(self, spec: Any) -> None:
        """Apply an admin JSON specification (one object or a list); raises FaultSpecError."""
        specs = spec if isinstance(spec, list) else [spec]
        for item in specs:
            if not isinstance(item, Mapping):
                raise FaultSpecError("each fault must be a JSON object")
            _apply_one(self, item)


def _num(item: Mapping[str, Any], name: str, default: Any = None, *, whole: bool = True) -> Any:
    value = item.get(name, default)
    kinds = (int,) if whole else (int, float)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
        raise FaultSpecError(f"'{name}' must be a non-negative {'integer' if whole else 'number'}")
    return value


def _apply_one(faults: Faults, item: Mapping[str, Any]) -> None:
    kind = item.get("kind")
    route = item.get("route")
    if route is not None and not isinstance(route, str):
        raise FaultSpecError("'route' must be a string")
    n = _num(item, "n", 1)
    if kind == "fail":
        message, code = item.get("message"), item.get("code")
        if not all(v is None or isinstance(v, str) for v in (message, code)):
            raise FaultSpecError("'message' and 'code' must be strings")
        faults.fail_next(
            n,
            status=_num(item, "status", 503),
            retry_after=_num(item, "retry_after", whole=False),
            message=message,
            route=route,
            code=code,
        )
    elif kind == "delay":
        faults.delay_next(_num(item, "ms", whole=False) or 0, n, route=route)
    elif kind == "rtt":
        faults.set_rtt(_num(item, "ms", 0, whole=False))
    elif kind == "drop":
        faults.drop_after(_num(item, "after", 0), n=n, route=route)
    elif kind == "truncate":
        faults.truncate_after(_num(item, "after", 0), n=n, route=route)
    elif kind == "corrupt":
        faults.corrupt_chunk(_num(item, "index", 0), n=n, route=route)
    elif kind == "plaintext":
        faults.plaintext_chunk(_num(item, "index", 0), n=n, route=route)
    elif kind == "reflect":
        faults.reflect_next(n, route=route)
    elif kind == "rotate_key":
        faults.rotate_key_next(n, route=route)
    elif kind == "clear":
        faults.clear()
    else:
        raise FaultSpecError("unknown fault kind")
