"""A loopback starlette app playing Atoma's proxy service and a Sui JSON-RPC full node."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

PACKAGE_ID = "0x" + "ab" * 32
ATOMA_DB_ID = "0x" + "cd" * 32


@dataclass
class FakeNetwork:
    """Mutable state behind the app, plus what it saw."""

    evidence: dict[int, bytes] = field(default_factory=dict)
    counter: int = 3
    nonce: int = 1000
    history: dict[int, int] = field(default_factory=dict)  # older counter -> nonce
    rpc_error: bool = False
    calls: list[str] = field(default_factory=list)
    authorization_seen: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.__dict__.update(FakeNetwork().__dict__)

    def rotate(self, nonce: int) -> None:
        self.history[self.counter] = self.nonce
        self.counter += 1
        self.nonce = nonce


def build_app(net: FakeNetwork) -> Starlette:
    async def attestation(request: Request) -> Response:
        net.calls.append("get_node_attestation")
        net.authorization_seen.extend(
            value for name, value in request.headers.items() if name in ("authorization", "cookie")
        )
        node = int(request.path_params["node"])
        if node == 500:
            return PlainTextResponse("db error", status_code=500)
        if node == 501:
            return PlainTextResponse("not json")
        if node == 502:
            return JSONResponse({"node_small_id": 7, "compressed_evidence": [1, 2]})
        if node == 503:
            return JSONResponse({"node_small_id": 503, "compressed_evidence": [1, 256]})
        if node not in net.evidence:
            return PlainTextResponse("not found", status_code=404)
        return JSONResponse({"node_small_id": node, "compressed_evidence": list(net.evidence[node])})

    def rpc_result(method: str, params: list[Any]) -> Any:
        if method == "sui_getObject":
            if params[0] != ATOMA_DB_ID:
                return {"error": {"code": "notExists", "object_id": params[0]}}
            fields = {
                "id": {"id": ATOMA_DB_ID},
                "key_rotation_counter": str(net.counter),
                "nonce": str(net.nonce),
            }
            content = {"dataType": "moveObject", "type": f"{PACKAGE_ID}::db::AtomaDb", "fields": fields}
            return {"data": {"objectId": ATOMA_DB_ID, "version": "1", "digest": "x", "content": content}}
        assert method == "suix_queryEvents"
        event_filter, cursor, limit, descending = params
        assert event_filter == {"MoveEventType": f"{PACKAGE_ID}::db::NewKeyRotationEvent"}
        assert cursor is None and descending is True
        rotations = sorted({**net.history, net.counter: net.nonce}.items(), reverse=True)[:limit]
        events = [
            {
                "id": {"txDigest": "d", "eventSeq": "0"},
                "packageId": PACKAGE_ID,
                "transactionModule": "db",
                "type": f"{PACKAGE_ID}::db::NewKeyRotationEvent",
                "parsedJson": {"key_rotation_counter": str(counter), "epoch": "1", "nonce": str(nonce)},
            }
            for counter, nonce in rotations
        ]
        return {"data": events, "nextCursor": None, "hasNextPage": False}

    async def rpc(request: Request) -> Response:
        body = await request.json()
        net.calls.append(body["method"])
        net.authorization_seen.extend(
            value for name, value in request.headers.items() if name in ("authorization", "cookie")
        )
        if net.rpc_error:
            error = {"code": -32000, "message": "x"}
            return JSONResponse({"jsonrpc": "2.0", "id": body["id"], "error": error})
        result = rpc_result(body["method"], body["params"])
        return JSONResponse({"jsonrpc": "2.0", "id": body["id"], "result": result})

    return Starlette(
        routes=[
            Route("/v1/get_node_attestation/{node}", attestation),
            Route("/rpc", rpc, methods=["POST"]),
        ]
    )


@contextmanager
def serve(net: FakeNetwork) -> Iterator[str]:
    """Run the app with uvicorn on a loopback port chosen by the OS; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(build_app(net), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("test server failed to start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
