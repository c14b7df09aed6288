"""Debug logging of request metadata (method, path, status, attempt, delay, elapsed); never bodies or headers.

Off unless ``ATOMASDK_DEBUG=1`` is set or a ``debug_logger`` is given. Only the ``atoma_sdk`` logger is ever
configured (and only when the env var turns it on and it has no handler yet); the root logger never is.
"""

from __future__ import annotations

import logging
import os
import threading

__all__ = ["DEBUG_ENV", "LOGGER_NAME", "RequestLog", "debug_enabled_by_env", "resolve_logger"]

LOGGER_NAME = "atoma_sdk"
DEBUG_ENV = "ATOMASDK_DEBUG"
_setup_lock = threading.Lock()


def debug_enabled_by_env() -> bool:
    """Whether ``ATOMASDK_DEBUG`` asks for debug logs."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def resolve_logger(debug_logger: logging.Logger | None) -> logging.Logger | None:
    """The logger to write debug records to, or None when debug logging is off."""
    if debug_logger is not None:
        return debug_logger
    if not debug_enabled_by_env():
        return None
    logger = logging.getLogger(LOGGER_NAME)
    with _setup_lock:
        if logger.level == logging.NOTSET or logger.level > logging.DEBUG:
            logger.setLevel(logging.DEBUG)
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
            logger.addHandler(handler)
    return logger


class RequestLog:
    """Writes one SDK instance's request records (a no-op when ``logger`` is None)."""

    __slots__ = ("logger",)

    def __init__(self, logger: logging.Logger | None) -> None:
        self.logger = logger

    def response(self, method: str, path: str, status: int, attempt: int, elapsed_s: float) -> None:
        if self.logger is not None:
            self.logger.debug(
                "%s %s -> %d (attempt %d, %.0f ms)", method, path, status, attempt, elapsed_s * 1000.0
            )

    def failure(self, method: str, path: str, error: BaseException, attempt: int, elapsed_s: float) -> None:
        if self.logger is not None:
            self.logger.debug(
                "%s %s -> %s (attempt %d, %.0f ms)",
                method, path, type(error).__name__, attempt, elapsed_s * 1000.0,
            )

    def retry(self, method: str, path: str, attempt: int, delay_s: float) -> None:
        if self.logger is not None:
            self.logger.debug(
                "%s %s: retrying as attempt %d in %.0f ms", method, path, attempt, delay_s * 1000.0
            )
