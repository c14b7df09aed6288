"""mypy --strict accepts the generated docs' examples and exact result types, and rejects misspellings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import REPO

_BLOCK = re.compile(r"```python\n(.*?)```", re.S)

EXACT = """
from atoma_sdk import models
from atoma_sdk._runtime.eventstream import EventStream, EventStreamAsync
from atoma_sdk.confidential.stream import ConfidentialStream, ConfidentialStreamAsync
from atoma_sdk.utils import RetryConfig

RAW = dict(ciphertext="c", client_dh_public_key="k", model_name="m", node_dh_public_key="n", nonce="o",
           plaintext_body_hash="h", salt="s", stack_small_id=1)


def exact(sdk: AtomaSDK) -> None:
    hi: list[models.ChatCompletionMessageTypedDict] = [{"role": "user", "content": "hi"}]
    assert_type(sdk.chat.create(messages=hi, model="m"), models.ChatCompletionResponse)
    assert_type(
        sdk.chat.create_stream(messages=[{"role": "user", "content": "hi"}], model="m", temperature=None),
        EventStream[models.ChatCompletionStreamResponse],
    )
    assert_type(
        sdk.confidential_chat.create(
            ciphertext="c", client_dh_public_key="k", model_name="m", node_dh_public_key="n", nonce="o",
            plaintext_body_hash="h", salt="s", stack_small_id=1, num_compute_units=None, stream=None,
            retries=RetryConfig("none"),
        ),
        models.ConfidentialComputeResponse,
    )
    assert_type(
        sdk.confidential_chat.create_stream(
            ciphertext="c", client_dh_public_key="k", model_name="m", node_dh_public_key="n", nonce="o",
            plaintext_body_hash="h", salt="s", stack_small_id=1,
        ),
        EventStream[models.ConfidentialComputeStreamResponse],
    )
    assert_type(sdk.confidential_chat.create(messages=hi, model="m"), models.ChatCompletionResponse)
    assert_type(
        sdk.confidential_chat.create_stream(messages=hi, model="m"),
        ConfidentialStream[models.ChatCompletionStreamResponse],
    )
    assert_type(sdk.nodes.nodes_create_lock(model="m", max_num_tokens=64), models.NodesCreateLockResponse)
    assert_type(sdk.models_.models_list(), models.ModelList)
    assert_type(sdk.health.health(), models.HealthResponse)
    assert_type(sdk.embeddings.create(input=["a", "b"], model="m"), models.CreateEmbeddingResponse)
    assert_type(sdk.images.generate(prompt="p", model="m"), models.CreateImageResponse)
    assert_type(sdk.confidential_images.generate(prompt="p", model="m"), models.CreateImageResponse)
    sdk.chat.create(
        messages=[
            models.ChatCompletionMessageUser(role="user", content="hi"),
            {"role": "system", "content": "x"},
        ],
        model="m",
        response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}},
        tool_choice="auto",
        tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        extra_body={"min_p": 0.1},
        http_headers={"x": "y"},
        timeout_ms=1000,
        server_url="http://127.0.0.1:1",
    )


async def exact_async(sdk: AtomaSDK) -> None:
    hi: list[models.ChatCompletionMessageTypedDict] = [{"role": "user", "content": "hi"}]
    assert_type(await sdk.chat.create_async(messages=hi, model="m"), models.ChatCompletionResponse)
    assert_type(
        await sdk.chat.create_stream_async(messages=hi, model="m"),
        EventStreamAsync[models.ChatCompletionStreamResponse],
    )
    assert_type(
        await sdk.confidential_chat.create_stream_async(messages=hi, model="m"),
        ConfidentialStreamAsync[models.ChatCompletionStreamResponse],
    )
    result = await sdk.confidential_completions.create_async(prompt="p", model="m")
    assert_type(result, models.CompletionsResponse)
    assert_type(
        await sdk.chat.create_async(messages=hi, model="m", stream=True),
        EventStreamAsync[models.ChatCompletionStreamResponse],
    )
    assert_type(
        await sdk.confidential_chat.create_async(messages=hi, model="m", stream=True),
        ConfidentialStreamAsync[models.ChatCompletionStreamResponse],
    )
    assert_type(
        await sdk.confidential_completions.create_async(prompt="p", model="m", stream=True),
        ConfidentialStreamAsync[models.CompletionsStreamResponse],
    )
    assert_type(
        await sdk.confidential_chat.create_stream_async(messages=hi, model="m", stream=True),
        ConfidentialStreamAsync[models.ChatCompletionStreamResponse],
    )


def stream_forms(sdk: AtomaSDK, flag: bool) -> None:
    # stream=True returns what create_stream returns; stream=False and a plain bool type as openai-python
    # does.
    hi: list[models.ChatCompletionMessageTypedDict] = [{"role": "user", "content": "hi"}]
    chunks = EventStream[models.ChatCompletionStreamResponse]
    sealed = ConfidentialStream[models.ChatCompletionStreamResponse]
    assert_type(sdk.chat.create(messages=hi, model="m", stream=True), chunks)
    assert_type(sdk.chat.create(messages=hi, model="m", stream=False), models.ChatCompletionResponse)
    assert_type(sdk.chat.create(messages=hi, model="m", stream=None), models.ChatCompletionResponse)
    assert_type(sdk.chat.create(messages=hi, model="m", stream=flag), models.ChatCompletionResponse | chunks)
    assert_type(
        sdk.completions.create(prompt="p", model="m", stream=True),
        EventStream[models.CompletionsStreamResponse],
    )
    assert_type(sdk.completions.create(prompt="p", model="m"), models.CompletionsResponse)
    assert_type(sdk.chat.create_stream(messages=hi, model="m", stream=True), chunks)
    assert_type(sdk.confidential_chat.create(messages=hi, model="m", stream=True), sealed)
    assert_type(
        sdk.confidential_chat.create(messages=hi, model="m", stream=False), models.ChatCompletionResponse
    )
    assert_type(
        sdk.confidential_chat.create(messages=hi, model="m", stream=flag),
        models.ChatCompletionResponse | sealed,
    )
    assert_type(
        sdk.confidential_completions.create(prompt="p", model="m", stream=True),
        ConfidentialStream[models.CompletionsStreamResponse],
    )
    assert_type(sdk.confidential_chat.create_stream(messages=hi, model="m", stream=True), sealed)
    assert_type(
        sdk.confidential_chat.create_stream(
            ciphertext="c", client_dh_public_key="k", model_name="m", node_dh_public_key="n", nonce="o",
            plaintext_body_hash="h", salt="s", stack_small_id=1, stream=True,
        ),
        EventStream[models.ConfidentialComputeStreamResponse],
    )
    assert_type(
        sdk.confidential_chat.create(
            ciphertext="c", client_dh_public_key="k", model_name="m", node_dh_public_key="n", nonce="o",
            plaintext_body_hash="h", salt="s", stack_small_id=1, stream=False,
        ),
        models.ConfidentialComputeResponse,
    )
    reveal_type(sdk.confidential_chat.create(messages=hi, model="m", stream=True))
"""

BAD = [
    'sdk.chat.create(messages=[{"role": "user", "contnet": "hi"}], model="m")',
    'sdk.chat.create(messages=[{"role": "user", "content": "hi"}], model="m", temprature=0.5)',
    'sdk.chat.create(messages=[{"role": "usr", "content": "hi"}], model="m")',
    'sdk.confidential_chat.create(messages=[{"role": "user", "content": "hi"}], model="m", ciphertext="c")',
    "sdk.nodes.nodes_create_lock(model=3)",
    'sdk.chat.create(messages=[], model="m", response_format={"type": "text", "json_shema": None})',
    'sdk.chat.create_stream(messages=[], model="m", stream=False)',
    'sdk.confidential_chat.create_stream(messages=[], model="m", stream=False)',
    'sdk.confidential_chat.create(ciphertext="c", client_dh_public_key="k", model_name="m",'
    ' node_dh_public_key="n", nonce="o", plaintext_body_hash="h", salt="s", stack_small_id=1, stream=True)',
]


def _examples() -> list[str]:
    texts = [(REPO / name).read_text() for name in ("README.md", "USAGE.md")]
    texts += [p.read_text() for p in sorted((REPO / "docs/sdks").glob("*/README.md"))]
    return [block for text in texts for block in _BLOCK.findall(text)]


def _module(examples: list[str]) -> str:
    head = "from __future__ import annotations\n\nimport os\n\nfrom typing_extensions import assert_type\n\n"
    head += "from atoma_sdk import AtomaSDK\n"
    lines = [line for code in examples for line in code.splitlines()]
    imports = sorted({line for line in lines if line.startswith(("import ", "from "))})
    head += "\n".join(imports) + "\n"
    functions = []
    for index, code in enumerate(examples):
        body = "\n".join(line for line in code.splitlines() if not line.startswith(("import ", "from ")))
        functions.append(f"def example_{index}() -> None:\n{textwrap.indent(body.strip(), '    ')}\n")
    return head + EXACT + "\n\n" + "\n\n".join(functions)


def _bad_module() -> tuple[str, list[int]]:
    lines = ["from atoma_sdk import AtomaSDK", "", "", "def bad(sdk: AtomaSDK) -> None:"]
    expected = []
    for call in BAD:
        lines.append(f"    {call}")
        expected.append(len(lines))
    return "\n".join(lines) + "\n", expected


@pytest.mark.slow
def test_mypy_strict_accepts_examples_and_rejects_mistakes(tmp_path: Path) -> None:
    examples = _examples()
    assert len(examples) >= 20  # every operation has one, confidential ones two
    good = tmp_path / "good_examples.py"
    good.write_text(_module(examples))
    bad_text, expected = _bad_module()
    bad = tmp_path / "bad_examples.py"
    bad.write_text(bad_text)
    env = {**os.environ, "MYPYPATH": str(REPO / "src")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--strict",
            "--follow-imports=silent",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-error-summary",
            "--show-error-codes",
            str(good),
            str(bad),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    out = done.stdout + done.stderr
    good_errors = [line for line in out.splitlines() if "good_examples.py" in line and ": error:" in line]
    assert good_errors == [], out
    bad_lines = {int(m.group(1)) for m in re.finditer(r"bad_examples\.py:(\d+): error:", out)}
    assert bad_lines == set(expected), out
    revealed = [line for line in out.splitlines() if "Revealed type is" in line]
    assert len(revealed) == 1, out
    assert '"atoma_sdk.confidential.stream.ConfidentialStream[' in revealed[0], out
    assert "ChatCompletionStreamResponse]" in revealed[0], out
