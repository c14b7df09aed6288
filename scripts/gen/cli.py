"""``scripts/generate [--check] [--root DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .output import OutputError, drift, plan, write
from .spec import SpecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/generate", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when generated files differ from the spec"
    )
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    try:
        result = plan(root)
        if args.check:
            changed = drift(root, result)
            if changed:
                print("generated code is out of date; run scripts/generate. Drifted files:", file=sys.stderr)
                for path in changed:
                    print(f"  {path}", file=sys.stderr)
                return 1
            print(f"generated code is up to date ({len(result.files)} files)")
            return 0
        touched = write(root, result)
    except (SpecError, OutputError) as exc:
        print(f"scripts/generate: {exc}", file=sys.stderr)
        return 2
    for path in touched:
        print(f"wrote {path}")
    print(f"{len(touched)} file(s) changed, {len(result.files)} generated")
    return 0
