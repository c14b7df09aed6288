"""mypy --strict sees parse()'s ``message.parsed`` and the final-completion types (reveal_type)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SOURCE = """
from __future__ import annotations

import dataclasses

import pydantic
from typing_extensions import TypedDict

from atoma_sdk import AtomaSDK


class Weather(pydantic.BaseModel):
    city: str


class Point(TypedDict):
    x: int


@dataclasses.dataclass
class Pair:
    left: str


async def check(sdk: AtomaSDK) -> None:
    hi = [{"role": "user", "content": "hi"}]
    result = sdk.confidential_chat.parse(messages=hi, model="m", response_format=Weather)
    reveal_type(result.choices[0].message.parsed)
    reveal_type(sdk.chat.parse(messages=hi, model="m", response_format=Point).choices[0].message.parsed)
    done = await sdk.confidential_chat.parse_async(messages=hi, model="m", response_format=Pair)
    reveal_type(done.choices[0].message.parsed)
    stream = sdk.confidential_chat.parse_stream(messages=hi, model="m", response_format=Weather)
    reveal_type(stream.get_final_completion().choices[0].message.parsed)
    plain = sdk.confidential_chat.create_stream(messages=[{"role": "user", "content": "hi"}], model="m")
    reveal_type(plain.get_final_completion())
    astream = await sdk.confidential_chat.create_stream_async(
        messages=[{"role": "user", "content": "hi"}], model="m"
    )
    reveal_type(await astream.get_final_completion())
    reveal_type(sdk.confidential_chat.run_tools(messages=hi, model="m", tools=[]).turns)
    reveal_type(sdk.chat.stream(messages=hi, model="m").get_final_completion())
    reveal_type(await (await sdk.chat.stream_async(messages=hi, model="m")).get_final_completion())
    sdk.chat.run_tools(messages=hi, model="m", tools=[])
"""

EXPECTED = [
    "Weather | None",
    "TypedDict(Point, {'x': int}) | None",
    "Pair | None",
    "Weather | None",
    "atoma_sdk.models.chat_completion_response.ChatCompletionResponse",
    "atoma_sdk.models.chat_completion_response.ChatCompletionResponse",
    "list[Any]",
    "atoma_sdk.models.chat_completion_response.ChatCompletionResponse",
    "atoma_sdk.models.chat_completion_response.ChatCompletionResponse",
]


@pytest.mark.slow
def test_mypy_reveals_parsed_and_final_completion_types(tmp_path: Path) -> None:
    module = tmp_path / "reveal.py"
    module.write_text(SOURCE)
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
            "--show-error-codes",
            str(module),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(REPO / "src")},
        check=False,
    )
    out = done.stdout + done.stderr
    revealed = re.findall(r'Revealed type is "([^"]+)"', out)
    assert [re.sub(r"reveal\.|builtins\.", "", r) for r in revealed] == EXPECTED, out
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "run_tools" in errors[0], out  # plaintext chat has no tool runner
