"""Debug records of request metadata (method, path, status, attempt, retry cause, delay); never bodies.

The SDK always logs to the ``atoma_sdk`` logger (or the ``debug_logger`` given), checking ``isEnabledFor`` per
record, so an application that sets ``logging.getLogger("atoma_sdk").setLevel(logging.DEBUG)`` and a handler
sees them (a level set later takes effect too). ``ATOMASDK_DEBUG=1`` sets that level and adds a stderr handler
only when the logger has none anywhere up its hierarchy (``hasHandlers()``), so no line prints twice. The root
logger is never configured.

A confidential call retries whole units, each made of several requests sent without retries of their own;
:func:`unit_attempt` tells the requests of one unit which attempt of the call they belong to.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = [
    "DEBUG_ENV",
    "LOGGER_NAME",
    "RequestLog",
    "current_attempt",
    "debug_enabled_by_env",
    "resolve_logger",
    "unit_attempt",
]

LOGGER_NAME = "atoma_sdk"
DEBUG_ENV = "ATOMASDK_DEBUG"
_setup_lock = threading.Lock()
_unit_attempt: ContextVar[int | None] = ContextVar("atoma_sdk_unit_attempt", default=None)


def debug_enabled_by_env() -> bool:
    """Whether ``ATOMASDK_DEBUG`` asks for debug logs."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def resolve_logger(debug_logger: logging.Logger | None) -> logging.Logger:
    """The logger the SDK writes to: ``debug_logger``, else ``atoma_sdk`` (set up when the env var asks)."""
    if debug_logger is not None:
        return debug_logger
    logger = logging.getLogger(LOGGER_NAME)
    if debug_enabled_by_env():
        with _setup_lock:
            if logger.level == logging.NOTSET or logger.level > logging.DEBUG:
                logger.setLevel(logging.DEBUG)
            if not logger.hasHandlers():
                handler = logging.StreamHandler()
                handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
                logger.addHandler(handler)
    return logger


@contextlib.contextmanager
def unit_attempt(attempt: int) -> Iterator[None]:
    """Within this block, requests report ``attempt`` (the confidential call's pass) as their attempt."""
    token = _unit_attempt.set(attempt)
    try:
        yield
    finally:
        _unit_attempt.reset(token)


def current_attempt(own: int) -> int:
    """The attempt number a request reports: its unit's (inside :func:`unit_attempt`), else its own."""
    unit = _unit_attempt.get()
    return own if unit is None else unit


class RequestLog:
    """Writes one SDK instance's request records at DEBUG level (checked per record)."""

    __slots__ = ("logger",)

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)

    def response(self, method: str, path: str, status: int, attempt: int, elapsed_s: float) -> None:
        if self.enabled():
            self.logger.debug(
                "%s %s -> %d (attempt %d, %.0f ms)", method, path, status, attempt, elapsed_s * 1000.0
            )

    def failure(self, method: str, path: str, error: BaseException, attempt: int, elapsed_s: float) -> None:
        if self.enabled():
            self.logger.debug(
                "%s %s -> %s (attempt %d, %.0f ms)",
                method, path, type(error).__name__, attempt, elapsed_s * 1000.0,
            )

    def retry(self, what: str, attempt: int, cause: BaseException | int, delay_s: float) -> None:
        """One line per retry: what is retried, the next attempt's number, the cause and the delay.

        ``cause`` is a status code or an exception, named by its status or class (never its message).
        """
        if self.enabled():
            self.logger.debug(
                "%s: retrying as attempt %d in %.0f ms after %s",
                what, attempt, delay_s * 1000.0, describe_cause(cause),
            )


def describe_cause(cause: BaseException | int) -> str:
    """``503`` for a status (or an error that carries one), else the exception's class name."""
    if isinstance(cause, int):
        return str(cause)
    status = getattr(cause, "status_code", None)
    if isinstance(status, int) and status:
        return f"{status} ({type(cause).__name__})"
    return type(cause).__name__
