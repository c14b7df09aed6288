"""The argument parser of the ``atoma`` command (standard library only, so that ``--help`` is instant)."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from .._version import __version__
from .exits import EXIT_USAGE

_DESCRIPTION = """\
Atoma's confidential (TEE) API from the command line. Without --server-url and without a token in
ATOMASDK_BEARER_AUTH, the client commands start a local node in-process (a built-in deterministic model,
not a language model) so that everything works offline."""

_EPILOG = (
    "exit codes: 0 ok, 1 error, 2 usage, 3 API error, 4 connection error, 5 verification failed, "
    "130 interrupted"
)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``atoma: error: <message> (see 'atoma chat --help')``."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"atoma: error: {message} (see '{self.prog} --help')\n")
        sys.stderr.flush()
        raise SystemExit(EXIT_USAGE)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _client_options() -> _Parser:
    client = _Parser(add_help=False)
    where = client.add_argument_group("server (default: a local node unless ATOMASDK_BEARER_AUTH is set)")
    exclusive = where.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--server-url",
        metavar="URL",
        help="the API to call (default https://api.atoma.network when a token is set)",
    )
    exclusive.add_argument("--local", action="store_true", help="start a local node in-process and use it")
    client.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="per-attempt timeout")
    client.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    return client


def build_parser() -> _Parser:
    """The whole ``atoma`` command line."""
    parser = _Parser(prog="atoma", description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"atoma-sdk {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    client = _client_options()

    node = commands.add_parser(
        "node",
        help="serve a local confidential node until Ctrl-C",
        description="Serve a local confidential node (the Atoma proxy and a node in one process) until "
        "Ctrl-C or SIGTERM. Prints its URL, API token, signer address and admin token (for fault injection).",
    )
    node.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    node.add_argument("--port", type=_port, default=0, help="port to listen on (default 0: a free port)")
    node.add_argument("--api-key", metavar="TOKEN", help="the token clients must send (default: random)")
    node.add_argument("--admin-token", metavar="TOKEN", help="the /_admin routes' token (default: random)")
    node.add_argument(
        "--model", action="append", dest="models", metavar="NAME", help="a model to serve (repeatable)"
    )
    node.add_argument(
        "--upstream",
        metavar="URL",
        help="answer with this OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1) instead of the "
        "built-in model; its key is read from ATOMA_UPSTREAM_API_KEY",
    )
    node.add_argument(
        "--token-delay", type=_seconds, default=0.0, metavar="SECONDS", help="time each streamed chunk takes"
    )
    node.add_argument(
        "--unique-nonces", action="store_true", help="encrypt every stream chunk under its own nonce"
    )
    node.add_argument(
        "--native-completions-streams",
        action="store_true",
        help="deliver confidential completions streams (the real proxy drops their chunks: keep-alives, "
        "then EOF)",
    )
    node.add_argument("--json", action="store_true", help="print the node's details as one JSON line")

    chat = commands.add_parser(
        "chat",
        parents=[client],
        help="send a confidential chat message",
        description="Send a confidential chat: encrypted to the node, decrypted and verified here. The "
        "answer goes to stdout; the verification receipt to stderr (or everything as JSON with --json).",
    )
    chat.add_argument("prompt", help='the user message ("-" reads it from standard input)')
    chat.add_argument("--model", "-m", metavar="NAME", help="default meta-llama/Llama-3.3-70B-Instruct")
    chat.add_argument("--stream", "-s", action="store_true", help="print the answer as it streams")
    chat.add_argument("--system", metavar="TEXT", help="a system message to send first")
    chat.add_argument("--max-tokens", type=_positive_int, metavar="N", help="limit the answer to N tokens")
    chat.add_argument("--seed", type=int, metavar="N", help="sampling seed")
    chat.add_argument(
        "--pin-signer",
        action="append",
        dest="signers",
        metavar="ADDRESS",
        help="accept only answers signed by this Sui address (repeat for several; see 'atoma node')",
    )
    chat.add_argument(
        "--nonce-reuse",
        choices=("warn", "raise", "ignore", "buffer"),
        default="warn",
        help="when a stream reuses one nonce: warn (default), raise, ignore, or buffer (ask for a "
        "non-streamed answer and replay it)",
    )
    chat.add_argument(
        "--attestation",
        choices=("enforce", "warn", "off"),
        help="node-key attestation: enforce, warn when no source is configured (default for a server), "
        "or off; an in-process node enforces it against its synthetic evidence",
    )
    chat.add_argument(
        "--local-attestation",
        action="store_true",
        help="the server is an `atoma node`: enforce attestation against the synthetic evidence and test "
        "root it publishes (a demonstration of the mechanism; it proves nothing about hardware)",
    )

    commands.add_parser(
        "models", parents=[client], help="list the models", description="List the models the server serves."
    )
    commands.add_parser(
        "health", parents=[client], help="check the server", description="Check that the server is up."
    )
    return parser
