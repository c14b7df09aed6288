"""``scripts/bench``: run the suite and write RESULTS.md and results.png.

Usage: scripts/bench [--quick | --smoke] [--cases 1,3,...] [--no-official] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks import chart, official_env, report
from benchmarks.cases import CASES, SETTINGS, Context
from benchmarks.harness import CaseResult
from benchmarks.node import NodeProcess
from benchmarks.protocol import Worker

ROOT = Path(__file__).resolve().parent.parent


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_const", const="quick", dest="mode", help="a run of a few minutes"
    )
    mode.add_argument(
        "--smoke", action="store_const", const="smoke", dest="mode", help="tiny settings (tests)"
    )
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma-separated case numbers (default: all)"
    )
    parser.add_argument("--no-official", action="store_true", help="skip Atoma's official client")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks", help="where RESULTS.md and results.png go"
    )
    args = parser.parse_args(argv)
    args.mode = args.mode or "full"
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    python, root = sys.executable, str(ROOT)
    official_python = None if args.no_official else official_env.ensure(ROOT)
    # The floor runs where PyNaCl is (the official client's venv: same httpx and cryptography versions).
    floor_python = str(official_python) if official_python else python
    results: list[CaseResult] = []
    with ExitStack() as stack:
        node = stack.enter_context(NodeProcess(python, root))
        sdk = stack.enter_context(Worker("atoma-sdk", [python, "-m", "benchmarks.worker_sdk"], cwd=root))
        floor = stack.enter_context(Worker("floor", [floor_python, "-m", "benchmarks.floor"], cwd=root))
        official = None
        official_versions: dict[str, str] = {}
        if official_python:
            official = stack.enter_context(
                Worker("official", [str(official_python), "-m", "benchmarks.worker_official"], cwd=root)
            )
            official_versions = official.call("version")
        openai_worker = None
        if "9" in args.cases:
            openai_worker = stack.enter_context(
                Worker("openai-python", [python, "-m", "benchmarks.worker_openai"], cwd=root)
            )
        ctx = Context(
            SETTINGS[args.mode],
            root,
            python,
            str(official_python) if official_python else None,
            node,
            sdk,
            floor,
            official,
            openai_worker,
        )
        for key in args.cases:
            case_start = time.perf_counter()
            print(f"[bench] case {key} ...", flush=True)
            result = CASES[key](ctx)
            results.append(result)
            for target in result.targets:
                shown = target.shown or f"{target.value:.2f}x"
                print(f"[bench]   {target.text}: {shown} -> {'met' if target.met else 'NOT MET'}", flush=True)
            print(f"[bench]   ({time.perf_counter() - case_start:.0f} s)", flush=True)
    elapsed = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    facts = report.machine_facts(official_versions)
    (args.out / "RESULTS.md").write_text(report.render(results, facts, args.mode, elapsed), encoding="utf-8")
    (args.out / "results.png").write_bytes(chart.render(results, f"ATOMA-SDK BENCHMARK RATIOS ({args.mode})"))
    print(f"[bench] wrote {args.out / 'RESULTS.md'} and results.png in {elapsed:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
