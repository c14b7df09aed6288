"""Running the local node: :class:`LocalNode` (background thread, for tests and demos) and :func:`serve`."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import uvicorn

from ..errors import AtomaError
from .app import create_app
from .config import NodeConfig
from .faults import Faults
from .guard import ConnectionGuard, GuardedListener, ServerLimits, install_log_filters, protocol_class
from .state import NodeState

if TYPE_CHECKING:
    from ..attestation import AttestationVerifier

_START_TIMEOUT = 15.0


def _bind(host: str, port: int) -> GuardedListener:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the listener says TCP
    # (without it every keep-alive request waits ~40 ms for a delayed ACK).
    sock = GuardedListener(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise AtomaError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(app: Any, sock: GuardedListener, limits: ServerLimits) -> uvicorn.Server:
    """uvicorn with the connection guard (:mod:`atoma_sdk.local.guard`) on ``sock``."""
    guard = ConnectionGuard(limits)
    sock.guard = guard
    install_log_filters()
    config = uvicorn.Config(
        app,
        http=protocol_class(guard),
        loop="asyncio",  # the guard's accept() must be the one the loop calls (uvloop accepts in C)
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        backlog=2048,
        # The idle timeout. The default (65 s) is longer than clients' pool expiry (httpx: 5 s), so a pooled
        # connection is never closed under a client that is just reusing it (a ReadError under load).
        timeout_keep_alive=max(1, round(limits.idle_timeout)),
    )
    return uvicorn.Server(config)


def _limits(config: NodeConfig) -> ServerLimits:
    return ServerLimits(
        header_timeout=config.header_timeout,
        idle_timeout=config.idle_timeout,
        max_connections=config.max_connections,
    )


class BackgroundServer:
    """Any ASGI app served by uvicorn in a daemon thread on a freshly bound socket (port 0 = a free port)."""

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, limits: ServerLimits | None = None
    ) -> None:
        self.app = app
        self._host, self._port = host, port
        self._limits = limits if limits is not None else ServerLimits()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._url = ""

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if not self._url:
            raise AtomaError("the server is not running")
        return self._url

    def start(self) -> None:
        """Start serving; returns when the server accepts connections (idempotent)."""
        if self._thread is not None:
            return
        self._socket = sock = _bind(self._host, self._port)
        self._server = server = _server(self.app, sock, self._limits)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._socket]}, name="atoma-local-node", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise AtomaError("the local server failed to start")
            time.sleep(0.005)
        self._url = _url(self._socket)

    def stop(self) -> None:
        """Stop serving and wait for the server thread (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self._url = ""


class LocalNode:
    """A local confidential node served by uvicorn in a background thread on a loopback port.

    ``with LocalNode() as node:`` (or ``async with``) starts it on a free port; ``node.url`` is the server
    URL to give the SDK (``AtomaSDK(server_url=node.url, bearer_auth=node.api_key)``).
    """

    def __init__(self, config: NodeConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config if config is not None else NodeConfig()
        self.app = create_app(self.config)
        self.state: NodeState = self.app.state.node
        self._server = BackgroundServer(self.app, host=host, port=port, limits=_limits(self.config))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        return self._server.url

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def admin_token(self) -> str:
        return self.config.admin_token

    @property
    def signer_address(self) -> str:
        """The Sui address of the node's signing key (``0x`` + 64 hex)."""
        return self.state.signer.address

    @property
    def public_key(self) -> str:
        """The node's current X25519 public key (standard base64)."""
        return self.state.public_key

    @property
    def faults(self) -> Faults:
        return self.state.faults

    def rotate_key(self) -> str:
        """Rotate the node's X25519 key; returns the new public key."""
        return self.state.rotate_key()

    def attestation_verifier(self) -> AttestationVerifier:
        """An attestation verifier for this node (its evidence route, test root and rotation nonce).

        ``VerificationPolicy(attestation="enforce", attestation_verifier=node.attestation_verifier())``.
        """
        return self.state.attestation.verifier(self.url)

    def start(self) -> LocalNode:
        """Start serving; returns when the node accepts connections."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        self._server.stop()

    def __enter__(self) -> LocalNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> LocalNode:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await anyio.to_thread.run_sync(self.stop)

    def __repr__(self) -> str:
        url = self._server._url or None
        return f"LocalNode(url={url!r}, signer={self.signer_address!r})"


def serve(
    config: NodeConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str, NodeState], None] | None = None,
) -> None:
    """Serve in the main thread; ``on_ready(url, state)`` runs once the socket listens.

    Ctrl-C or SIGTERM shut the server down gracefully and then make this function *return*, so callers can
    exit with status 0. The handlers are installed before ``on_ready`` announces the node: a signal that
    arrives before uvicorn takes over its handling still stops the server (a KeyboardInterrupt raised there
    could land in a weakref callback or the garbage collector, be ignored and leave the node running).
    """
    app = create_app(config)
    state: NodeState = app.state.node
    sock = _bind(host, port)
    server = _server(app, sock, _limits(state.config))

    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if on_ready is not None:
            on_ready(_url(sock), state)
        server.run(sockets=[sock])  # uvicorn re-raises a captured signal afterwards: ``stop`` absorbs it
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
