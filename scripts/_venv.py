"""Create or reuse the project's virtual environment (.venv) and re-run a script inside it.

Only the standard library is used here: the README's commands must work on a machine that has
nothing but python3. The environment is (re)installed when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".atoma-installed"


def _wanted_stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure() -> Path:
    """Make sure .venv exists with the project and its dev extras installed; return its python."""
    if not PYTHON.exists():
        print("[atoma-sdk] creating virtual environment in .venv", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    wanted = _wanted_stamp()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        print("[atoma-sdk] installing atoma-sdk and its development tools into .venv", flush=True)
        subprocess.run(
            [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-e", f"{ROOT}[dev]"],
            check=True,
        )
        STAMP.write_text(wanted)
    return PYTHON


def reexec_in_venv() -> None:
    """Re-run the calling script with the project's interpreter unless already inside it."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = ensure()
    os.execv(str(python), [str(python), *sys.argv])
