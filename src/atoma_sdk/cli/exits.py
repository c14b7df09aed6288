"""Exit codes of the ``atoma`` command and the one-line description of every failure."""

from __future__ import annotations

import os
from typing import Final

EXIT_OK: Final = 0
#: A failure not covered below (e.g. the node cannot listen on its port).
EXIT_ERROR: Final = 1
#: Bad arguments (argparse), or arguments the request schema rejects.
EXIT_USAGE: Final = 2
#: The server answered with an error status (4XX / 5XX), after retries.
EXIT_API: Final = 3
#: The server could not be reached, or did not answer in time.
EXIT_CONNECTION: Final = 4
#: A confidential answer failed verification (decryption, hash, signature, truncation, ...).
EXIT_VERIFICATION: Final = 5
#: A bug: set ATOMA_DEBUG=1 to see the traceback.
EXIT_INTERNAL: Final = 70
EXIT_INTERRUPTED: Final = 130
EXIT_TERMINATED: Final = 143

EXIT_CODES: Final = {
    "ok": EXIT_OK,
    "error": EXIT_ERROR,
    "usage": EXIT_USAGE,
    "api": EXIT_API,
    "connection": EXIT_CONNECTION,
    "verification": EXIT_VERIFICATION,
    "internal": EXIT_INTERNAL,
    "interrupted": EXIT_INTERRUPTED,
    "terminated": EXIT_TERMINATED,
}

_ENV_SECRETS = ("ATOMASDK_BEARER_AUTH", "ATOMA_UPSTREAM_API_KEY")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that everything unwinds as for Ctrl-C."""


class CLIError(Exception):
    """A failure the command itself detected; ``code`` is its exit status."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def describe_error(exc: BaseException) -> tuple[int, str]:
    """``(exit code, one line)`` for an exception; the line never contains a token from the environment."""
    from .. import errors

    code = EXIT_INTERNAL
    message = f"internal error ({type(exc).__name__}); rerun with ATOMA_DEBUG=1 for details"
    if isinstance(exc, CLIError):
        code, message = exc.code, str(exc)
    elif isinstance(exc, errors.ConfidentialError):
        code, message = EXIT_VERIFICATION, f"verification failed: {exc}"
    elif isinstance(exc, errors.AuthenticationError):
        code, message = EXIT_API, f"{exc} (check the token in ATOMASDK_BEARER_AUTH)"
    elif isinstance(exc, errors.APIError):
        code, message = EXIT_API, str(exc)
    elif isinstance(exc, errors.APIConnectionError):
        code, message = EXIT_CONNECTION, str(exc)
    elif isinstance(exc, errors.RequestValidationError):
        code, message = EXIT_USAGE, str(exc)
    elif isinstance(exc, errors.AtomaError):
        code, message = EXIT_ERROR, str(exc)
    return code, redact(" ".join(message.split()))


def redact(text: str) -> str:
    """``text`` with every secret the command was given through the environment replaced."""
    for name in _ENV_SECRETS:
        secret = os.environ.get(name)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "<redacted>")
    return text
