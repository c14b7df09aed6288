"""The ASGI app of the local node: the Atoma proxy's routes and the node's behaviour behind them.

Routes: one per operation of the proxy's OpenAPI document. Without auth ``GET /health``,
``GET /v1/open_router/models`` and ``POST /v1/nodes`` (a node registering its address, signed with its
Sui key); with the bearer token ``GET /v1/models``, ``POST /v1/nodes/lock``, plaintext
``POST /v1/chat/completions`` / ``/v1/completions`` / ``/v1/embeddings`` / ``/v1/images/generations`` and
the confidential ``POST /v1/confidential/{chat/completions, completions, embeddings, images/generations}``.
Streams carry bare ``data:`` events, ``: keep-alive`` comments after 15 ms of idleness and no ``[DONE]``,
as the proxy sends them. Also ``GET /v1/get_node_attestation/{id}`` (the proxy service's, no auth).
Admin routes (``Authorization: Bearer <admin token>``): ``POST|GET|DELETE /_admin/faults`` (see
:mod:`atoma_sdk.local.faults` for the JSON) and ``POST /_admin/rotate-key``.
"""

from __future__ import annotations

import hmac
import json
import logging
from base64 import b64decode
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import anyio.lowlevel
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..confidential.envelope import HASH_LEN, NodeSession, RequestRejected, b64d
from ..errors import IntegrityError
from .answer import CHAT, COMPLETIONS, EMBEDDINGS, IMAGES, Answerer, AnswerError, Operation
from .confidential import InjectedDisconnect, OuterRequestError, Sealer, parse_outer, reflected, sealed_events
from .config import NodeConfig
from .directory import RegistrationError, check_registration, open_router_models
from .faults import FaultPlan, FaultSpecError
from .limits import EXCEPTION_HANDLERS, RequestLimits
from .sse import EventStreamResponse
from .state import NodeState
from .wire import (
    NODE_BAD_REQUEST,
    NODE_INTERNAL_ERROR,
    dumps,
    error_response,
    event,
    json_response,
    request_error,
)

_OPERATIONS: dict[str, Operation] = {
    "chat/completions": CHAT,
    "completions": COMPLETIONS,
    "embeddings": EMBEDDINGS,
    "images/generations": IMAGES,
}


class _QuietInjectedDisconnects(logging.Filter):
    """Keeps uvicorn from logging a traceback for every stream the ``drop`` fault aborts on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDisconnect))


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietInjectedDisconnects) for f in logger.filters):
        logger.addFilter(_QuietInjectedDisconnects())


def _bearer_ok(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    return header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode())


def _uint_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0)


class _Node:
    """Route handlers over one node's state."""

    def __init__(self, state: NodeState) -> None:
        self.state = state
        self.config = state.config
        self.answerer = Answerer(state.config)

    async def _admit(self, request: Request, *, auth: bool = True) -> tuple[Response | None, FaultPlan]:
        """Round-trip delay, bearer check, then the ``fail`` / ``delay`` faults of this request."""
        faults = self.state.faults
        if auth and not _bearer_ok(request, self.config.api_key):
            if faults.rtt_ms:
                await anyio.sleep(faults.rtt_ms / 1000.0)
            return error_response(401), FaultPlan()
        plan = faults.take_request(request.url.path)
        if plan.delay:
            await anyio.sleep(plan.delay)
        if plan.fail is not None:
            fail = plan.fail
            response = error_response(fail.status, fail.message, retry_after=fail.retry_after, code=fail.code)
            return response, plan
        return None, plan

    async def health(self, request: Request) -> Response:
        denied, _ = await self._admit(request, auth=False)
        return denied or json_response({"message": "ok"})

    async def models(self, request: Request) -> Response:
        denied, _ = await self._admit(request)
        if denied:
            return denied
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "atoma-local"} for m in self.config.models
        ]
        return json_response({"object": "list", "data": data})

    async def lock(self, request: Request) -> Response:
        denied, _ = await self._admit(request)
        if denied:
            return denied
        body = await _json_object(request)
        if body is None or not isinstance(body.get("model"), str):
            return request_error("Failed to parse body as JSON: missing or invalid field `model`")
        units, ttl = body.get("max_num_tokens"), body.get("timeout")
        if not (_uint_or_none(units) and _uint_or_none(ttl)) or isinstance(units, float):
            return request_error("Failed to parse body as JSON: invalid `max_num_tokens` or `timeout`")
        stack = self.state.stacks.get(body["model"])
        if stack is None:
            return error_response(503)
        self.state.locks.add(
            stack,
            self.config.default_lock_units if units is None else units,
            self.config.lock_ttl if ttl is None else float(ttl),
        )
        return json_response(
            {
                "public_key": self.state.public_key,
                "node_small_id": self.config.node_small_id,
                "stack_entry_digest": None,
                "stack_small_id": stack,
            }
        )

    async def plaintext(self, request: Request, op: Operation) -> Response:
        denied, _ = await self._admit(request)
        if denied:
            return denied
        body = await _json_object(request)
        if body is None:
            return request_error("Failed to parse body as JSON: expected an object")
        if body.get("model") not in self.config.models:
            return request_error("model is not served by this node")
        try:
            if body.get("stream") is True and op.chunks is not None:
                source = await self.answerer.open_stream(op, body)
                return self._sse(_plain_events(source, self.state))
            return json_response(_signed(await self.answerer.complete(op, body), self.state))
        except AnswerError as exc:
            return request_error(str(exc)) if exc.bad_request else error_response(500)

    async def confidential(self, request: Request, op: Operation) -> Response:
        denied, plan = await self._admit(request)
        if denied:
            return denied
        try:
            outer = parse_outer(await request.body())
            b64d(outer["plaintext_body_hash"], what="body hash")
        except OuterRequestError as exc:
            return request_error(str(exc))
        except IntegrityError:
            return request_error("Hash is not base64")
        if outer["stack_small_id"] not in self.state.stack_ids:
            return error_response(404)  # the proxy finds no node address for the stack
        units = outer.get("num_compute_units")
        if not self.state.locks.consume(
            outer["stack_small_id"], op.default_units if units is None else units
        ):
            return error_response(425)
        streamed = outer.get("stream") is True and op.chunks is not None
        self.state.faults.take_response(request.url.path, streamed=streamed, plan=plan)
        if plan.rotate_key:
            self.state.rotate_key()
        if plan.reflect:
            answer = reflected(self.state, outer)
            if streamed:
                return self._sse(_once(event(dumps(answer))))
            return json_response(
                {**answer, "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
            )
        if not _is_hash(outer["plaintext_body_hash"]):
            return error_response(500, NODE_BAD_REQUEST)  # node 400, seen through the proxy
        try:
            session, plaintext = NodeSession.from_request(self.state.private_key, outer)
        except RequestRejected as exc:
            # Only a hash mismatch is a node 400; every decryption error (encodings, lengths, a stale
            # key, a failed tag) is a node 500 (protocol.md §12.3).
            bad = exc.kind == "hash-mismatch"
            return error_response(500, NODE_BAD_REQUEST if bad else NODE_INTERNAL_ERROR)
        body = _decode_inner(plaintext)
        if body is None or body.get("model") not in self.config.models:
            return error_response(500, NODE_BAD_REQUEST)
        sealer = Sealer(self.state, session)
        try:
            if streamed:
                source = await self.answerer.open_stream(op, body)
                dropped = op is COMPLETIONS and self.config.completions_stream_quirk
                return self._sse(sealed_events(source, sealer, plan, deliver=not dropped))
            answer = await self.answerer.complete(op, body)
        except AnswerError as exc:
            return error_response(500, NODE_BAD_REQUEST if exc.bad_request else NODE_INTERNAL_ERROR)
        answer_bytes = dumps(answer)
        if plan.plaintext_index is not None:
            return Response(answer_bytes, media_type="application/json")
        corrupt = plan.corrupt_index is not None
        return json_response(
            sealer.response(answer_bytes, answer.get("usage"), with_usage=op.sealed_usage, corrupt=corrupt)
        )

    def _sse(self, body: AsyncIterator[bytes]) -> Response:
        interval = self.config.keep_alive_interval if self.config.keep_alive else None
        return EventStreamResponse(body, keep_alive=interval)

    async def open_router_models(self, request: Request) -> Response:
        """``GET /v1/open_router/models`` (no auth): the proxy's OpenRouter models file, a model an entry."""
        denied, _ = await self._admit(request, auth=False)
        if denied:
            return denied
        return json_response(open_router_models(self.config.models))

    async def register_node(self, request: Request) -> Response:
        """``POST /v1/nodes`` (no auth): a node registers its public address, signed with its Sui key."""
        denied, _ = await self._admit(request, auth=False)
        if denied:
            return denied
        try:
            check_registration(
                await _json_object(request), self.config.node_small_id, self.state.signer.address
            )
        except RegistrationError as exc:
            return error_response(404) if exc.status == 404 else request_error(str(exc))
        return json_response({"message": "Success"})

    async def admin_faults(self, request: Request) -> Response:
        if not _bearer_ok(request, self.config.admin_token):
            return error_response(401)
        faults = self.state.faults
        if request.method == "POST":
            try:
                faults.apply(json.loads(await request.body()))
            except (ValueError, FaultSpecError) as exc:
                detail = str(exc) if isinstance(exc, FaultSpecError) else "invalid JSON"
                return request_error(detail)
        elif request.method == "DELETE":
            faults.clear()
        return json_response({"rtt_ms": faults.rtt_ms, "pending": faults.pending()})

    async def attestation(self, request: Request) -> Response:
        """``GET /v1/get_node_attestation/{id}`` as the proxy service serves it (no auth)."""
        denied, _ = await self._admit(request, auth=False)
        if denied:
            return denied
        if request.path_params["node_small_id"] != self.config.node_small_id:
            return error_response(404)
        try:
            evidence = await anyio.to_thread.run_sync(
                self.state.attestation.evidence, b64decode(self.state.public_key)
            )
        except ImportError:
            return error_response(501, "attestation needs the blake3 package (atoma-sdk[attestation])")
        node_id = self.config.node_small_id
        return json_response({"node_small_id": node_id, "compressed_evidence": list(evidence)})

    async def attestation_info(self, request: Request) -> Response:
        """``GET /_local/attestation``: the test root and rotation nonce a client verifies against."""
        denied, _ = await self._admit(request, auth=False)
        if denied:
            return denied
        try:
            info = await anyio.to_thread.run_sync(self.state.attestation.describe)
        except ImportError:
            return error_response(501, "attestation needs the blake3 package (atoma-sdk[attestation])")
        return json_response(info)

    async def admin_rotate_key(self, request: Request) -> Response:
        if not _bearer_ok(request, self.config.admin_token):
            return error_response(401)
        return json_response({"public_key": self.state.rotate_key()})


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        value = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _decode_inner(plaintext: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(plaintext)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _signed(answer: dict[str, Any], state: NodeState) -> dict[str, Any]:
    """A plaintext answer or chunk as the node signs it: ``signature`` and ``response_hash`` (over the
    answer's compact JSON) appended, which the proxy passes on to the client."""
    response_hash, signature = state.sign(dumps(answer))
    return {**answer, "signature": signature, "response_hash": response_hash}


async def _plain_events(source: AsyncIterator[dict[str, Any]], state: NodeState) -> AsyncIterator[bytes]:
    """A plaintext stream's events; the proxy consumes the engine's ``[DONE]`` (§12.4), so none is sent."""
    async for chunk in source:
        yield event(dumps(_signed(chunk, state)))
        await anyio.lowlevel.checkpoint()  # fairness, and noticing a client that went away


def _is_hash(value: str) -> bool:
    try:
        b64d(value, length=HASH_LEN, what="body hash")
    except IntegrityError:
        return False
    return True


async def _http_error(_: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return error_response(status)


def create_app(config: NodeConfig | None = None) -> Starlette:
    """The node as an ASGI app; ``app.state.node`` is its :class:`~atoma_sdk.local.state.NodeState`."""
    state = NodeState(config if config is not None else NodeConfig())
    node = _Node(state)
    _install_log_filter()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await node.answerer.aclose()

    routes = [
        Route("/health", node.health, methods=["GET"]),
        Route("/v1/models", node.models, methods=["GET"]),
        Route("/v1/nodes/lock", node.lock, methods=["POST"]),
        Route("/v1/nodes", node.register_node, methods=["POST"]),
        Route("/v1/open_router/models", node.open_router_models, methods=["GET"]),
        *(
            Route(f"/v1/confidential/{path}", partial(node.confidential, op=op), methods=["POST"])
            for path, op in _OPERATIONS.items()
        ),
        *(
            Route(f"/v1/{path}", partial(node.plaintext, op=op), methods=["POST"])
            for path, op in _OPERATIONS.items()
        ),
        Route("/v1/get_node_attestation/{node_small_id:int}", node.attestation, methods=["GET"]),
        Route("/_local/attestation", node.attestation_info, methods=["GET"]),
        Route("/_admin/faults", node.admin_faults, methods=["GET", "POST", "DELETE"]),
        Route("/_admin/rotate-key", node.admin_rotate_key, methods=["POST"]),
    ]
    config = state.config
    limits = Middleware(RequestLimits, max_body_size=config.max_body_size, body_timeout=config.body_timeout)
    handlers = {HTTPException: _http_error, **EXCEPTION_HANDLERS}
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[limits], exception_handlers=handlers)
    app.state.node = state
    return app
