"""RESULTS.md: the targets (met / not met), every case's medians, ranges and ratios, and machine facts."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version

from benchmarks.harness import CaseResult, Ratio, Series, Target


def machine_facts(official: Mapping[str, str]) -> list[tuple[str, str]]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    facts = [
        ("Date (UTC)", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("CPU", cpu),
        ("Cores", str(os.cpu_count())),
        ("OS", platform.platform()),
        ("Python", sys.version.split()[0] + f" ({platform.python_implementation()})"),
    ]
    for name in ("atoma-sdk", "httpx", "httpcore", "pydantic", "cryptography", "uvicorn", "starlette"):
        with contextlib.suppress(PackageNotFoundError):
            facts.append((name, version(name)))
    for name, value in official.items():
        facts.append((f"{name} (official client's venv)", value))
    return facts


def _num(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def _series_row(s: Series) -> str:
    k = s.scale
    if len(s.values) == 1:
        return f"| {s.label} | {_num(s.median * k)} {s.unit} | (1 run) |"
    return f"| {s.label} | {_num(s.median * k)} {s.unit} | {_num(s.low * k)} - {_num(s.high * k)} |"


def _ratio_row(r: Ratio) -> str:
    if len(r.values) == 1:
        return f"| **{r.label}** | **{r.median:.2f}x** | (1 run) |"
    return f"| **{r.label}** | **{r.median:.2f}x** | {r.low:.2f}x - {r.high:.2f}x |"


def _target_value(t: Target) -> str:
    return t.shown or f"{t.value:.2f}x"


def _target_limit(t: Target) -> str:
    if t.shown:
        return ("<= " if t.at_most else ">= ") + _num(t.limit)
    return ("<= " if t.at_most else ">= ") + f"{t.limit:g}x"


def render(cases: Sequence[CaseResult], facts: Sequence[tuple[str, str]], mode: str, seconds: float) -> str:
    lines = [
        "# atoma-sdk benchmark results",
        "",
        f"Written by `scripts/bench{' --quick' if mode == 'quick' else ''}` (mode: {mode}, "
        f"{seconds / 60:.1f} min). Every comparison ran side by side in the same run, interleaved "
        "(the order rotates each repetition), against one local node running in a separate process; "
        "client CPU is measured inside each client's own process. Values are medians over repetitions "
        "with min - max; ratios are computed per repetition (paired) and summarised the same way. "
        "See `benchmarks/README.md` for what each case measures.",
        "",
        "![chart](results.png)",
        "",
        "## Targets",
        "",
        "| Case | Target | Measured | Goal | Status |",
        "|---|---|---|---|---|",
    ]
    for case in cases:
        for t in case.targets:
            status = "met" if t.met else "**not met**"
            lines.append(f"| {case.key} | {t.text} | {_target_value(t)} | {_target_limit(t)} | {status} |")
    for case in cases:
        lines += ["", f"## {case.key}. {case.title}", "", "| Side | Median | Min - max |", "|---|---|---|"]
        lines += [_series_row(s) for s in case.series]
        lines += [_ratio_row(r) for r in case.ratios]
        if case.notes:
            lines.append("")
            lines += [f"- {note}" for note in case.notes]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in facts]
    return "\n".join(lines) + "\n"
