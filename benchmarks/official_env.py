"""The throw-away virtual environment (.bench/venv) holding the official client and PyNaCl.

The official ``atoma-sdk==0.1.3`` pins clash with ours and its package is also called ``atoma_sdk``, so it
lives in its own environment and is driven as a subprocess. PyNaCl is installed there only to compare
its Ed25519 verification with ``cryptography``'s; it is not a dependency of atoma-sdk.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

OFFICIAL = "atoma-sdk==0.1.3"
EXTRAS = ("pynacl",)


def ensure(root: Path) -> Path | None:
    """Create or reuse ``root/.bench/venv``; its python, or None (with a message) if it cannot be built."""
    home = root / ".bench" / "venv"
    python = home / "bin" / "python"
    stamp = home / ".bench-installed"
    wanted = " ".join((OFFICIAL, *EXTRAS))
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"[bench] installing {wanted} into {home.relative_to(root)}", flush=True)
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(home)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                OFFICIAL,
                *EXTRAS,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"[bench] cannot build the official client's environment ({exc}); skipping it", file=sys.stderr)
        return None
    stamp.write_text(wanted)
    return python
