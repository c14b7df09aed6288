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
from typing import Any

import httpx
from typing_extensions import assert_type

from atoma_sdk import AtomaSDK, errors, models
from atoma_sdk._runtime.eventstream import EventStream, EventStreamAsync
from atoma_sdk._runtime.raw import RawResponse
from atoma_sdk.confidential.stream import ConfidentialStream, ConfidentialStreamAsync
from atoma_sdk.health import HealthRaw

HI: list[models.ChatCompletionMessageTypedDict] = [{"role": "user", "content": "hi"}]


def raw(sdk: AtomaSDK) -> None:
    assert_type(sdk.health.with_raw_response, HealthRaw)
    assert_type(sdk.health.with_raw_response.health(), RawResponse[models.HealthResponse])
    assert_type(sdk.health.with_raw_response.health().parse(), models.HealthResponse)
    reveal_type(sdk.chat.with_raw_response.create(messages=HI, model="m").parse().choices)
    assert_type(
        sdk.chat.with_raw_response.create(messages=HI, model="m"), RawResponse[models.ChatCompletionResponse]
    )
    assert_type(
        sdk.chat.with_raw_response.create(messages=HI, model="m", stream=True),
        RawResponse[EventStream[models.ChatCompletionStreamResponse]],
    )
    assert_type(
        sdk.confidential_chat.with_raw_response.create(messages=HI, model="m"),
        RawResponse[models.ChatCompletionResponse],
    )
    assert_type(
        sdk.confidential_chat.with_raw_response.create(
            ciphertext="c", client_dh_public_key="k", model_name="m", node_dh_public_key="n", nonce="o",
            plaintext_body_hash="h", salt="s", stack_small_id=1,
        ),
        RawResponse[models.ConfidentialComputeResponse],
    )
    assert_type(
        sdk.confidential_chat.with_raw_response.create_stream(messages=HI, model="m"),
        RawResponse[ConfidentialStream[models.ChatCompletionStreamResponse]],
    )
    lock = sdk.nodes.with_raw_response.nodes_create_lock(model="m")
    assert_type(lock.parse(), models.NodesCreateLockResponse)
    assert_type(lock.lock_response, RawResponse[Any] | None)
    assert_type(lock.status_code, int)
    assert_type(lock.headers, httpx.Headers)
    assert_type(lock.request_id, str | None)


async def raw_async(sdk: AtomaSDK) -> None:
    done = await sdk.health.with_raw_response.health_async()
    assert_type(done.elapsed.total_seconds(), float)
    assert_type(
        await sdk.completions.with_raw_response.create_stream_async(prompt="p", model="m"),
        RawResponse[EventStreamAsync[models.CompletionsStreamResponse]],
    )
    assert_type(
        await sdk.confidential_chat.with_raw_response.create_async(messages=HI, model="m", stream=True),
        RawResponse[ConfidentialStreamAsync[models.ChatCompletionStreamResponse]],
    )
    assert_type(
        (await sdk.confidential_embeddings.with_raw_response.create_async(input="a", model="m")).parse(),
        models.CreateEmbeddingResponse,
    )


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
    "sdk.health.with_raw_response.health_check()",
    'sdk.chat.with_raw_response.create(messages=[], model=1)',
    'sdk.confidential_chat.with_raw_response.create(messages=[], model="m", ciphertext="c")',
    'sdk.health.with_raw_response.health().parse().choices',
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
    revealed = r'good_options\.py:\d+: note: Revealed type is "(builtins\.)?list\[atoma_sdk\.models\.'
    assert re.search(revealed + r'chat_completion_choice\.ChatCompletionChoice\]"', out), out
    assert {int(m.group(1)) for m in re.finditer(r"bad_options\.py:(\d+): error:", out)} == expected, out
