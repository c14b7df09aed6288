"""The ``atoma`` command (also ``python -m atoma_sdk``): a local node, confidential chat, models, health.

Startup stays fast: only the standard library is imported here; each command imports the SDK (or the
local node) when it runs. Every failure ends as one ``atoma: error: ...`` line on stderr and a distinct
exit code (see :data:`EXIT_CODES`), never a traceback and never a token.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from .exits import EXIT_CODES, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated, describe_error
from .parser import build_parser

__all__ = ["EXIT_CODES", "main"]


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def _run(argv: Sequence[str] | None, out: TextIO, err: TextIO) -> int:
    args = build_parser().parse_args(argv)
    from . import commands

    handler = getattr(commands, f"run_{args.command}")
    code: int = handler(args, out, err)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    out, err = sys.stdout, sys.stderr
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(argv, out, err)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt as exc:
        _line(err, "\natoma: interrupted")
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `atoma models | head -1`): say nothing more on a closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        return 1
    except Exception as exc:
        code, message = describe_error(exc)
        if code == EXIT_INTERNAL and os.environ.get("ATOMA_DEBUG"):
            raise
        _line(err, f"atoma: error: {message}")
        return code
    finally:
        signal.signal(signal.SIGTERM, previous)


def _line(stream: TextIO, text: str) -> None:
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def entry_point() -> None:
    """``sys.exit(main())``, for ``python -m atoma_sdk``."""
    sys.exit(main())
