"""The built-in deterministic model, as pure functions."""

from __future__ import annotations

import base64
import struct

import pytest

from atoma_sdk.local import model


def _chat(**extra: object) -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": "Hello world"}], **extra}


def test_text_is_a_function_of_prompt_seed_and_limit() -> None:
    assert model.generate_tokens("p", model="m", seed=1, count=8) == model.generate_tokens(
        "p", model="m", seed=1, count=8
    )
    assert model.generate_tokens("p", model="m", seed=1, count=8) != model.generate_tokens(
        "p", model="m", seed=2, count=8
    )
    assert model.generate_tokens("p", model="m", seed=None, count=8) != model.generate_tokens(
        "q", model="m", seed=None, count=8
    )
    assert model.generate_tokens("p", model="m", seed=None, count=3, choice=1) != model.generate_tokens(
        "p", model="m", seed=None, count=3, choice=0
    )


@pytest.mark.parametrize("count", [1, 2, 3, 4, 16, 200])
def test_token_counts_and_repeats(count: int) -> None:
    tokens = model.generate_tokens("x", model="m", seed=None, count=count)
    assert len(tokens) == count
    assert not tokens[0].startswith(" ") and all(t.startswith(" ") for t in tokens[1:])
    if count >= 4:
        assert tokens[2] == tokens[1]


def test_chat_default_limit_and_usage() -> None:
    answer = model.chat_completion(_chat())
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"] == {
        "prompt_tokens": 2,
        "completion_tokens": model.DEFAULT_MAX_TOKENS,
        "total_tokens": 2 + model.DEFAULT_MAX_TOKENS,
    }


def test_stream_and_whole_answer_agree() -> None:
    body = _chat(max_completion_tokens=7, seed=3)
    whole = model.chat_completion(body)["choices"][0]["message"]["content"]
    chunks = model.chat_completion_chunks(body)
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks[:-1]) == whole
    assert chunks[-1]["usage"]["completion_tokens"] == 7 == len(chunks) - 1


def test_completions_list_prompt() -> None:
    answer = model.text_completion({"model": "m", "prompt": ["a", "b"], "max_tokens": 2})
    assert answer["usage"]["completion_tokens"] == 2


@pytest.mark.parametrize(
    ("function", "body"),
    [
        (model.chat_completion, {"messages": [{"role": "user", "content": "x"}]}),
        (model.chat_completion, {"model": "m", "messages": "x"}),
        (model.chat_completion, _chat(max_tokens=0)),
        (model.chat_completion, _chat(max_tokens=True)),
        (model.chat_completion, _chat(n=99)),
        (model.text_completion, {"model": "m", "prompt": 3}),
        (model.embeddings, {"model": "m", "input": [1]}),
        (model.embeddings, {"model": "m", "input": []}),
        (model.images, {"model": "m", "prompt": "x", "size": "big"}),
        (model.images, {"model": "m", "prompt": "x", "size": "0x5"}),
        (model.images, {"model": "m"}),
    ],
)
def test_bad_inputs_raise_model_input_error(function: object, body: dict[str, object]) -> None:
    with pytest.raises(model.ModelInputError):
        function(body)  # type: ignore[operator]


def test_embeddings_are_unit_vectors_and_base64_matches() -> None:
    floats = model.embeddings({"model": "m", "input": "hi", "dimensions": 5})["data"][0]["embedding"]
    assert abs(sum(v * v for v in floats) - 1) < 1e-4
    encoded = model.embeddings({"model": "m", "input": "hi", "dimensions": 5, "encoding_format": "base64"})
    decoded = struct.unpack("<5f", base64.b64decode(encoded["data"][0]["embedding"]))
    assert [round(v, 5) for v in decoded] == [round(v, 5) for v in floats]


def test_images_are_pngs() -> None:
    answer = model.images({"model": "m", "prompt": "p", "response_format": "b64_json", "n": 2})
    assert [base64.b64decode(d["b64_json"])[:8] for d in answer["data"]] == [b"\x89PNG\r\n\x1a\n"] * 2
    assert model.image_size({"size": "256x512"}) == (256, 512)
