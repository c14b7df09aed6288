"""Confidential at plaintext latency: lock prefetch vs plaintext ``chat.create`` over a simulated RTT.

Usage: ``python benchmarks/case_prefetch.py [--quick | --smoke] [--rtt-ms 50] [--reps N]``. A local node
runs in a child process (so its CPU time is not the client's) and delays every request by the RTT. For each
mode (plaintext, confidential with ``lock_prefetch=True``, confidential without it) it measures, sequentially
and with 8 concurrent callers (threads; and tasks on one event loop, over the default client and over
aiohttp), the latency of ``create`` and the time to the first item of ``create_stream``. The modes run
interleaved, in a rotating order, over several repetitions (a fresh SDK each), so that the load of a shared
machine falls on all of them alike; it prints medians, p90s and, per metric, the median over repetitions of
the paired ratio prefetch / plaintext (targets: at most 1.1x sequential, 1.15x with 8 concurrent).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MESSAGES: Any = [{"role": "user", "content": "How fast is a confidential call?"}]
CONCURRENCY = 8


def serve_node(rtt_ms: float) -> None:
    """Child mode: run a local node, print ``{"url", "api_key", "model"}``, serve until stdin closes."""
    from atoma_sdk.local import LocalNode
    from atoma_sdk.local.config import CHAT_MODEL

    with LocalNode() as node:
        node.faults.set_rtt(rtt_ms)
        print(json.dumps({"url": node.url, "api_key": node.api_key, "model": CHAT_MODEL}), flush=True)
        sys.stdin.read()


@dataclass
class Mode:
    name: str
    confidential: bool
    prefetch: bool


MODES = (
    Mode("plaintext chat", False, False),
    Mode("confidential + prefetch", True, True),
    Mode("confidential (no prefetch)", True, False),
)


def one_call(sdk: Any, mode: Mode, model: str, *, stream: bool) -> float:
    """Seconds until the answer (``stream``: until the first item)."""
    resource = sdk.confidential_chat if mode.confidential else sdk.chat
    started = time.perf_counter()
    if stream:
        events = resource.create_stream(messages=MESSAGES, model=model)
        with events:
            next(iter(events))
            elapsed = time.perf_counter() - started
            for _ in events:
                pass
        return elapsed
    resource.create(messages=MESSAGES, model=model)
    return time.perf_counter() - started


def run_sequential(call: Callable[[], float], n: int) -> list[float]:
    return [call() for _ in range(n)]


def run_concurrent(call: Callable[[], float], rounds: int) -> list[float]:
    """``rounds`` waves of CONCURRENCY simultaneous calls (threads released together)."""
    samples: list[float] = []
    guard = threading.Lock()

    def worker(barrier: threading.Barrier) -> None:
        barrier.wait()
        value = call()
        with guard:
            samples.append(value)

    for _ in range(rounds):
        barrier = threading.Barrier(CONCURRENCY)
        threads = [threading.Thread(target=worker, args=(barrier,)) for _ in range(CONCURRENCY)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return samples


async def one_call_async(sdk: Any, mode: Mode, model: str, *, stream: bool) -> float:
    """Async :func:`one_call`."""
    resource = sdk.confidential_chat if mode.confidential else sdk.chat
    started = time.perf_counter()
    if stream:
        events = await resource.create_stream_async(messages=MESSAGES, model=model)
        async with events:
            await events.__anext__()
            elapsed = time.perf_counter() - started
            async for _ in events:
                pass
        return elapsed
    await resource.create_async(messages=MESSAGES, model=model)
    return time.perf_counter() - started


@dataclass(frozen=True)
class Sizes:
    """Samples per repetition: sequential calls, waves of CONCURRENCY calls, warm-up calls; repetitions."""

    sequential: int
    rounds: int
    warmup: int
    reps: int


QUICK = Sizes(sequential=4, rounds=3, warmup=2, reps=5)
FULL = Sizes(sequential=10, rounds=3, warmup=3, reps=7)
SMOKE = Sizes(sequential=1, rounds=1, warmup=1, reps=2)


def measure_async(
    url: str, api_key: str, model: str, mode: Mode, *, sizes: Sizes, backend: str
) -> dict[str, list[float]]:
    """``latency`` / ``ttft`` of CONCURRENCY simultaneous tasks on one event loop (``backend``: the SDK's
    default httpx client, or ``aiohttp``: a DefaultAioHttpClient)."""
    from atoma_sdk import AtomaSDK, DefaultAioHttpClient

    rounds, warmup = sizes.rounds, sizes.warmup

    async def run() -> dict[str, list[float]]:
        results: dict[str, list[float]] = {}
        client = DefaultAioHttpClient() if backend == "aiohttp" else None
        async with AtomaSDK(
            bearer_auth=api_key, server_url=url, lock_prefetch=mode.prefetch, async_client=client
        ) as sdk:
            for stream in (False, True):
                kind = "ttft" if stream else "latency"
                for _ in range(warmup):
                    await one_call_async(sdk, mode, model, stream=stream)
                samples: list[float] = []
                for _ in range(1 + rounds):  # the first round warms the pool up to the concurrency
                    wave = [one_call_async(sdk, mode, model, stream=stream) for _ in range(CONCURRENCY)]
                    samples += await asyncio.gather(*wave)
                results[f"{kind} x{CONCURRENCY} async {backend}"] = samples[CONCURRENCY:]
        return results

    return asyncio.run(run())


def measure(url: str, api_key: str, model: str, mode: Mode, *, sizes: Sizes) -> dict[str, list[float]]:
    """One repetition of one mode: every metric's samples (and the pool's counters with prefetch)."""
    from atoma_sdk import AtomaSDK

    sequential_n, rounds, warmup = sizes.sequential, sizes.rounds, sizes.warmup
    results: dict[str, list[float]] = {}
    with AtomaSDK(bearer_auth=api_key, server_url=url, lock_prefetch=mode.prefetch) as sdk:
        for stream in (False, True):
            kind = "ttft" if stream else "latency"
            call = functools.partial(one_call, sdk, mode, model, stream=stream)
            for _ in range(warmup):
                call()
            results[f"{kind} seq"] = run_sequential(call, sequential_n)
            run_concurrent(call, 1)  # warm the pool / connections up to the concurrency
            results[f"{kind} x{CONCURRENCY}"] = run_concurrent(call, rounds)
        if mode.prefetch:
            results["_stats"] = [float(v) for v in sdk.lock_pool_stats().values()]
    for backend in ("default", "aiohttp"):
        results.update(measure_async(url, api_key, model, mode, sizes=sizes, backend=backend))
    return results


def measure_all(url: str, api_key: str, model: str, sizes: Sizes) -> dict[str, Any]:
    """All modes, interleaved over ``sizes.reps`` repetitions: ``{"table": {mode: {metric: samples}},
    "ratios": {metric: [median prefetch / median plaintext, per repetition]}}``."""
    table: dict[str, dict[str, list[float]]] = {m.name: {} for m in MODES}
    ratios: dict[str, list[float]] = {}
    for rep in range(sizes.reps):
        order = MODES[rep % len(MODES):] + MODES[: rep % len(MODES)]
        this = {m.name: measure(url, api_key, model, m, sizes=sizes) for m in order}
        for name, results in this.items():
            for metric, values in results.items():
                if metric == "_stats":
                    table[name][metric] = values  # counters of the last repetition
                else:
                    table[name].setdefault(metric, []).extend(values)
        plain, prefetch = this[MODES[0].name], this[MODES[1].name]
        for metric in (m for m in plain if not m.startswith("_")):
            ratio = statistics.median(prefetch[metric]) / statistics.median(plain[metric])
            ratios.setdefault(metric, []).append(ratio)
    return {"table": table, "ratios": ratios}


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--smoke", action="store_true", help="tiny settings (the test suite)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default: 5 quick, 7 full)")
    parser.add_argument("--json", action="store_true", help="raw samples as JSON (scripts/bench)")
    parser.add_argument("--serve-node", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_node:
        serve_node(args.rtt_ms)
        return
    warnings.simplefilter("ignore")  # unattested-key and nonce-reuse warnings of the local node
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve-node", "--rtt-ms", str(args.rtt_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        info = json.loads(child.stdout.readline())
        url, key, model = info["url"], info["api_key"], info["model"]
        sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
        if args.reps is not None:
            sizes = Sizes(sizes.sequential, sizes.rounds, sizes.warmup, args.reps)
        out = measure_all(url, key, model, sizes)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)
    if args.json:
        print(json.dumps(out))
    else:
        report(out["table"], out["ratios"], args.rtt_ms)


def report(table: dict[str, dict[str, list[float]]], ratios: dict[str, list[float]], rtt_ms: float) -> None:
    base = table[MODES[0].name]
    metrics = [key for key in base if not key.startswith("_")]
    print(f"lock prefetch vs plaintext, simulated RTT {rtt_ms:g} ms (ms: median / p90; ratio of medians)")
    print(f"{'mode':<28}" + "".join(f"{metric:>24}" for metric in metrics))
    for name, results in table.items():
        cells = []
        for metric in metrics:
            med = statistics.median(results[metric])
            ratio = med / statistics.median(base[metric])
            cells.append(f"{med * 1e3:7.1f} /{p90(results[metric]) * 1e3:6.1f} {ratio:5.2f}x")
        print(f"{name:<28}" + "".join(f"{cell:>24}" for cell in cells))
    print("paired prefetch / plaintext, median over repetitions (min - max):")
    for metric, values in ratios.items():
        print(f"  {metric:<28} {statistics.median(values):5.2f}x ({min(values):.2f} - {max(values):.2f})")
    stats = table[MODES[1].name].get("_stats")
    if stats is not None:
        from atoma_sdk.confidential.lockpool import PoolStats

        names = list(PoolStats().as_dict())
        print("pool:", ", ".join(f"{k}={int(v)}" for k, v in zip(names, stats, strict=True)))


if __name__ == "__main__":
    main()
