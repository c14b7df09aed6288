"""The built-in *deterministic* model. It is not a language model and knows nothing.

It exists so that demos and tests get realistic OpenAI-shaped answers without any inference server:
the text is a function of the prompt, ``max_tokens`` / ``max_completion_tokens``, ``seed``, the model name
and the choice index (never of time); it repeats the previous token now and then (always at the third
token), as real models do, so streams contain byte-identical chunks. Without a limit it answers
:data:`DEFAULT_MAX_TOKENS` tokens and finishes with ``"stop"``; with a limit it answers exactly that many
and finishes with ``"length"``. ``usage.completion_tokens`` equals the number of content chunks.
Embeddings are unit vectors derived from the input's hash; images are tiny solid-colour PNGs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import time
import uuid
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_MAX_TOKENS = 16
MAX_TOKENS_CAP = 4096
MAX_CHOICES = 8
DEFAULT_EMBEDDING_DIMENSIONS = 16
DEFAULT_IMAGE_SIZE = (1024, 1024)

_WORDS = (
    "atoma",
    "local",
    "node",
    "answers",
    "every",
    "prompt",
    "with",
    "verified",
    "tokens",
    "from",
    "a",
    "deterministic",
    "model",
    "that",
    "never",
    "leaves",
    "your",
    "machine",
    "and",
    "keeps",
    "secrets",
    "sealed",
    "inside",
    "the",
    "enclave",
    "while",
    "streams",
    "flow",
    "quietly",
    "onward",
    "signed",
    "hashed",
    "encrypted",
    "for",
    "you",
    "alone",
)

Json = dict[str, Any]


class ModelInputError(Exception):
    """The decrypted request is not something the model can answer (a node 400)."""


def _int(body: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ModelInputError(f"'{name}' must be an integer between {low} and {high}")
    return value


def _token_limit(body: Mapping[str, Any]) -> tuple[int, str]:
    for name in ("max_completion_tokens", "max_tokens"):
        if body.get(name) is not None:
            return _int(body, name, DEFAULT_MAX_TOKENS, 1, MAX_TOKENS_CAP), "length"
    return DEFAULT_MAX_TOKENS, "stop"


def _digest_stream(key: bytes) -> bytes:
    return b"".join(hashlib.blake2b(key + i.to_bytes(4, "little"), digest_size=64).digest() for i in range(2))


def generate_tokens(prompt: str, *, model: str, seed: int | None, count: int, choice: int = 0) -> list[str]:
    """The model's tokens for a prompt: a pure function of its arguments."""
    key = json.dumps([prompt, model, seed, choice], ensure_ascii=False).encode()
    tokens: list[str] = []
    block = b""
    for i in range(count):
        if i % 128 == 0:
            block = _digest_stream(key + i.to_bytes(4, "little"))
        byte = block[i % 128]
        if 2 <= i < count - 1 and (i == 2 or byte % 7 == 0):
            tokens.append(tokens[-1])
            continue
        word = _WORDS[byte % len(_WORDS)]
        tokens.append(word.capitalize() if i == 0 else " " + word)
    return tokens


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def _count_words(text: str) -> int:
    return max(1, len(text.split()))


def _model_of(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ModelInputError("'model' is required")
    return model


class _Plan:
    """What to answer for a chat or completions request: prompt, tokens per choice, finish reason."""

    def __init__(self, body: Mapping[str, Any], prompt: str, prompt_tokens: int) -> None:
        self.model = _model_of(body)
        self.prompt_tokens = prompt_tokens
        count, self.finish_reason = _token_limit(body)
        choices = _int(body, "n", 1, 1, MAX_CHOICES)
        seed = body.get("seed")
        seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
        self.tokens = [
            generate_tokens(prompt, model=self.model, seed=seed, count=count, choice=c)
            for c in range(choices)
        ]
        self.created = int(time.time())

    def usage(self) -> Json:
        completion = sum(len(t) for t in self.tokens)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


def _chat_plan(body: Mapping[str, Any]) -> _Plan:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, Mapping) for m in messages):
        raise ModelInputError("'messages' must be a non-empty list of objects")
    prompt = "\n".join(f"{m.get('role')}: {_text_of(m.get('content'))}" for m in messages)
    words = sum(_count_words(_text_of(m.get("content"))) for m in messages)
    return _Plan(body, prompt, words)


def _completion_plan(body: Mapping[str, Any]) -> _Plan:
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        prompt = " ".join(str(p) for p in prompt)
    if not isinstance(prompt, str):
        raise ModelInputError("'prompt' must be a string or a list")
    return _Plan(body, prompt, _count_words(prompt))


def chat_completion(body: Mapping[str, Any]) -> Json:
    """A ``chat.completion`` object."""
    from .tool_model import answer  # tools / response_format / tool results: see tool_model

    if (special := answer(body)) is not None:
        return special.completion()
    plan = _chat_plan(body)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": plan.created,
        "model": plan.model,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": "".join(tokens)},
                "logprobs": None,
                "finish_reason": plan.finish_reason,
            }
            for i, tokens in enumerate(plan.tokens)
        ],
        "usage": plan.usage(),
    }


def chat_completion_chunks(body: Mapping[str, Any]) -> list[Json]:
    """``chat.completion.chunk`` objects (vLLM shape), the ``choices: []`` usage chunk last."""
    from .tool_model import answer  # tools / response_format / tool results: see tool_model

    if (special := answer(body)) is not None:
        return special.chunks()
    plan = _chat_plan(body)
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    chunks: list[Json] = []
    for step in range(len(plan.tokens[0])):
        for index, tokens in enumerate(plan.tokens):
            delta = {"role": "assistant", "content": tokens[step]} if step == 0 else {"content": tokens[step]}
            last = step == len(tokens) - 1
            chunks.append(
                {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": plan.created,
                    "model": plan.model,
                    "choices": [
                        {
                            "index": index,
                            "delta": delta,
                            "logprobs": None,
                            "finish_reason": plan.finish_reason if last else None,
                        }
                    ],
                    "usage": None,
                }
            )
    chunks.append(
        {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": plan.created,
            "model": plan.model,
            "choices": [],
            "usage": plan.usage(),
        }
    )
    return chunks


def text_completion(body: Mapping[str, Any]) -> Json:
    """A ``text_completion`` object."""
    plan = _completion_plan(body)
    return {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": plan.created,
        "model": plan.model,
        "system_fingerprint": "atoma-local-deterministic",
        "choices": [
            {"index": i, "text": "".join(tokens), "logprobs": None, "finish_reason": plan.finish_reason}
            for i, tokens in enumerate(plan.tokens)
        ],
        "usage": plan.usage(),
    }


def text_completion_chunks(body: Mapping[str, Any]) -> list[Json]:
    """Streamed ``text_completion`` chunks, the ``choices: []`` usage chunk last."""
    plan = _completion_plan(body)
    cid = f"cmpl-{uuid.uuid4().hex}"
    head = {
        "id": cid,
        "object": "text_completion",
        "created": plan.created,
        "model": plan.model,
        "system_fingerprint": "atoma-local-deterministic",
    }
    chunks: list[Json] = []
    for step in range(len(plan.tokens[0])):
        for index, tokens in enumerate(plan.tokens):
            last = step == len(tokens) - 1
            choice = {
                "index": index,
                "text": tokens[step],
                "logprobs": None,
                "finish_reason": plan.finish_reason if last else None,
            }
            chunks.append({**head, "choices": [choice], "usage": None})
    chunks.append({**head, "choices": [], "usage": plan.usage()})
    return chunks


def _vector(text: str, model: str, dimensions: int) -> list[float]:
    raw = b""
    counter = 0
    while len(raw) < 2 * dimensions:
        raw += hashlib.blake2b(f"{model}\x00{counter}\x00{text}".encode(), digest_size=64).digest()
        counter += 1
    values = [int.from_bytes(raw[2 * i : 2 * i + 2], "little") / 32767.5 - 1.0 for i in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def embeddings(body: Mapping[str, Any]) -> Json:
    """An OpenAI embedding list: one unit vector per input (``dimensions`` default 16)."""
    model = _model_of(body)
    raw_input = body.get("input")
    inputs: Sequence[Any] = [raw_input] if isinstance(raw_input, str) else raw_input  # type: ignore[assignment]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
        raise ModelInputError("'input' must be a string or a non-empty list of strings")
    dimensions = _int(body, "dimensions", DEFAULT_EMBEDDING_DIMENSIONS, 1, 4096)
    as_base64 = body.get("encoding_format") == "base64"
    data: list[Json] = []
    for index, text in enumerate(inputs):
        vector = _vector(text, model, dimensions)
        embedding: Any = (
            base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode() if as_base64 else vector
        )
        data.append({"object": "embedding", "embedding": embedding, "index": index})
    tokens = sum(_count_words(t) for t in inputs)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def image_size(body: Mapping[str, Any]) -> tuple[int, int]:
    """``size`` as (width, height); default 1024x1024."""
    size = body.get("size")
    if size is None:
        return DEFAULT_IMAGE_SIZE
    try:
        width, height = (int(part) for part in str(size).lower().split("x"))
    except ValueError:
        raise ModelInputError("'size' must look like 1024x1024") from None
    if not (0 < width <= 8192 and 0 < height <= 8192):
        raise ModelInputError("'size' is out of range")
    return width, height


def _png(rgb: bytes, side: int = 8) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + rgb * side for _ in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def images(body: Mapping[str, Any]) -> Json:
    """``{"created", "data": [...]}`` with tiny PNGs (as ``data:`` URLs, or ``b64_json``)."""
    model = _model_of(body)
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise ModelInputError("'prompt' must be a string")
    count = _int(body, "n", 1, 1, 4)
    image_size(body)
    as_b64 = body.get("response_format") == "b64_json"
    data: list[Json] = []
    for index in range(count):
        colour = hashlib.blake2b(f"{model}\x00{index}\x00{prompt}".encode(), digest_size=3).digest()
        encoded = base64.b64encode(_png(colour)).decode()
        item: Json = {"b64_json": encoded} if as_b64 else {"url": f"data:image/png;base64,{encoded}"}
        item["revised_prompt"] = prompt
        data.append(item)
    return {"created": int(time.time()), "data": data}
