"""mypy --strict sees the new options' signatures: accepted forms type-check, wrong ones are rejected."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

GOOD = """
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from typing_extensions import assert_type

from atoma_sdk import AtomaSDK, errors, models
from atoma_sdk._runtime.raw import RawResponse
from atoma_sdk.health import Health


# What the generator will emit per resource for typed raw responses: a protocol of the methods with
# RawResponse[...] results, and one annotation on the resource class (the run-time part already works).
class HealthRaw(Protocol):
    def health(self) -> RawResponse[models.HealthResponse]: ...
    async def health_async(self) -> RawResponse[models.HealthResponse]: ...


class TypedHealth(Health):
    if TYPE_CHECKING:
        with_raw_response: HealthRaw


async def raw(sdk: AtomaSDK) -> None:
    health = TypedHealth(sdk._runtime)
    assert_type(health.with_raw_response.health(), RawResponse[models.HealthResponse])
    assert_type(health.with_raw_response.health().parse(), models.HealthResponse)
    assert_type((await health.with_raw_response.health_async()).elapsed.total_seconds(), float)
    assert_type(sdk.health.with_raw_response, Any)  # untyped until the generator emits the protocols


def good(sdk: AtomaSDK) -> None:
    assert_type(AtomaSDK(default_headers={"X-A": "1"}, max_retries=3, timeout=2), AtomaSDK)
    assert_type(AtomaSDK(timeout=httpx.Timeout(5.0, connect=1.0)), AtomaSDK)
    copy = sdk.with_options(timeout=1.5, max_retries=0, default_headers={"X-B": "2"}, server_url="http://h")
    assert_type(copy, AtomaSDK)
    assert_type(copy.with_options(retry_config=None, timeout_ms=100, bearer_auth=lambda: "t"), AtomaSDK)
    result = sdk.chat.create(messages=[{"role": "user", "content": "hi"}], model="m")
    assert_type(result.to_dict(), dict[str, Any])
    assert_type(result.to_dict(mode="json", exclude_none=True), dict[str, Any])
    assert_type(result.to_json(indent=None), str)
    assert_type(models.ChatCompletionMessageUser(role="user", content="hi").to_json(), str)
    try:
        sdk.health.health()
    except errors.ClientClosedError as exc:
        assert_type(exc, errors.ClientClosedError)
"""

BAD = [
    'sdk.with_options(timeout="3")',
    'AtomaSDK(max_retries="3")',
    "sdk.with_options(lock_prefetch=True)",
    'AtomaSDK(default_headers=[("a", "b")])',
    'sdk.chat.create(messages=[], model="m").to_dict(mode="xml")',
]


@pytest.mark.slow
def test_new_signatures_type_check(tmp_path: Path) -> None:
    good = tmp_path / "good_options.py"
    good.write_text(GOOD)
    lines = ["from atoma_sdk import AtomaSDK", "", "", "def bad(sdk: AtomaSDK) -> None:"]
    expected = set()
    for call in BAD:
        lines.append(f"    {call}")
        expected.add(len(lines))
    bad = tmp_path / "bad_options.py"
    bad.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [
            sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), "--strict",
            "--follow-imports=silent", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary",
            str(good), str(bad),
        ],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "MYPYPATH": str(REPO / "src")},
        check=False,
    )
    out = done.stdout + done.stderr
    assert [line for line in out.splitlines() if "good_options.py" in line and ": error:" in line] == [], out
    assert {int(m.group(1)) for m in re.finditer(r"bad_options\.py:(\d+): error:", out)} == expected, out
