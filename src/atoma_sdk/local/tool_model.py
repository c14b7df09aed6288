"""The built-in model's tool calls and JSON answers: deterministic, documented, OpenAI-shaped.

Takes over a chat request (see :func:`answer`) when it offers ``tools``, asks for ``response_format``
``json_schema`` / ``json_object``, or ends with a tool result:

* **Tool calls.** Unless ``tool_choice`` is ``"none"``, it calls the tool named by ``tool_choice``, else
  every offered tool whose name appears in the last user message (in order of appearance; only the first
  when ``parallel_tool_calls`` is false), else the first tool. Arguments come from the message when it
  spells them (``name(3, "x")`` maps positional values to the schema's properties in order, ``x=3``
  sets one, a quoted text fills the first string parameter still unset) and are otherwise generated
  valid against the tool's ``parameters`` schema. After a tool result (the last message has role
  ``"tool"``) it answers with text built from that result instead, unless ``tool_choice`` is
  ``"required"`` or names a tool (then it calls again).
* **JSON.** With ``json_schema`` it answers an instance of the schema (a tool result that already fits
  the schema is answered as is); with ``json_object`` an object ``{"answer": ...}``. A last user message
  containing ``refuse`` gets ``refusal`` set and no content instead.
* ``max_tokens`` / ``max_completion_tokens`` truncate (``finish_reason="length"``); ``stop`` cuts the text
  before the first stop sequence.

Schemas outside :mod:`.schemas`' subset are a 400 with the reason. Streams send a role-only first chunk,
then a tool call's name and its arguments in pieces (``index`` set, ``id``/``type`` on the first delta
only), as vLLM does; ``usage.completion_tokens`` counts the chunks carrying content or tool-call deltas.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import model as base
from .schemas import SchemaError, check, instance, is_valid

__all__ = ["answer"]

Json = dict[str, Any]
_PIECE = 6
_REFUSAL = "I'm sorry, I cannot help with that."
_ARG = r"""("(?:[^"\\]|\\.)*"|'[^']*'|[^,()\s][^,()]*)"""
_WORD = r"""("(?:[^"\\]|\\.)*"|'[^']*'|[^,()\s]+)"""


@dataclass
class _Call:
    id: str
    name: str
    arguments: str


@dataclass
class _Choice:
    pieces: list[str] = field(default_factory=list)
    calls: list[_Call] = field(default_factory=list)
    call_pieces: list[list[str]] = field(default_factory=list)
    refusal: str | None = None
    finish_reason: str = "stop"

    def tokens(self) -> int:
        """Counted chunks: content pieces, and per tool call its name delta plus its argument pieces."""
        return len(self.pieces) + sum(1 + len(p) for p in self.call_pieces)


def _pieces(text: str, size: int = _PIECE) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _last(messages: list[Mapping[str, Any]], role: str) -> Mapping[str, Any] | None:
    return next((m for m in reversed(messages) if m.get("role") == role), None)


def _tools(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise base.ModelInputError("'tools' must be a list")
    functions: list[Mapping[str, Any]] = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise base.ModelInputError("each tool needs a 'function' with a 'name'")
        params = function.get("parameters") or {"type": "object", "properties": {}}
        try:
            check(params)
        except SchemaError as exc:
            raise base.ModelInputError(
                f"tool {function['name']!r}: unsupported parameters schema: {exc}"
            ) from None
        functions.append({"name": function["name"], "parameters": params})
    return functions


def _chosen(
    body: Mapping[str, Any], tools: list[Mapping[str, Any]], prompt: str, after_tool: bool
) -> list[Any]:
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return []
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        named = [t for t in tools if t["name"] == name]
        if not named:
            raise base.ModelInputError(f"tool_choice names an unknown tool {name!r}")
        return named
    if after_tool and choice != "required":
        return []
    spans = sorted(
        (m.start(), t["name"]) for t in tools for m in re.finditer(rf"\b{re.escape(t['name'])}\b", prompt)
    )
    order = list(dict.fromkeys(name for _, name in spans))
    found = [next(t for t in tools if t["name"] == name) for name in order] or tools[:1]
    return found[:1] if body.get("parallel_tool_calls") is False else found


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _spelled(name: str, params: Mapping[str, Any], prompt: str) -> dict[str, Any]:
    """Argument values the message spells for tool ``name`` (not yet checked against the schema)."""
    props = list((params.get("properties") or {}).keys())
    found: dict[str, Any] = {}
    call = re.search(rf"\b{re.escape(name)}\(([^)]*)\)", prompt)
    if call:
        values = [m.group(1) for m in re.finditer(_ARG, call.group(1))]
        for value in values:
            key, eq, rest = value.partition("=")
            if eq and key.strip() in props:
                found[key.strip()] = _literal(rest)
        positional = [v for v in values if not (v.partition("=")[1] and v.partition("=")[0].strip() in props)]
        found.update({p: _literal(v) for p, v in zip(props, positional, strict=False) if p not in found})
    for prop in props:
        match = re.search(rf"\b{re.escape(prop)}\s*=\s*{_WORD}", prompt)
        if match and prop not in found:
            found[prop] = _literal(match.group(1))
    quoted = re.search(r'"([^"]*)"', prompt)
    if quoted:
        for prop in props:
            sub = params["properties"][prop]
            if prop not in found and isinstance(sub, Mapping) and sub.get("type") == "string":
                found[prop] = quoted.group(1)
                break
    return found


def _arguments(tool: Mapping[str, Any], prompt: str, seed: str) -> Json:
    params = tool["parameters"]
    props: Mapping[str, Any] = params.get("properties") or {}
    generated = instance(params, seed=seed)
    args = dict(generated) if isinstance(generated, dict) else {}
    for key, value in _spelled(tool["name"], params, prompt).items():
        candidate = float(value) if props[key].get("type") == "number" and isinstance(value, int) else value
        if is_valid(props[key], candidate, root=params):
            args[key] = candidate
    return args if is_valid(params, args) else generated


def _json_text(body: Mapping[str, Any], messages: list[Mapping[str, Any]], seed: str) -> str | None:
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind == "json_object":
        return json.dumps(
            {"answer": "".join(base.generate_tokens(seed, model=str(body["model"]), seed=None, count=4))}
        )
    if kind != "json_schema":
        return None
    spec = fmt.get("json_schema") if isinstance(fmt, Mapping) else None
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    if not isinstance(schema, Mapping):
        raise base.ModelInputError("response_format json_schema needs a 'schema' object")
    try:
        check(schema)
    except SchemaError as exc:
        raise base.ModelInputError(f"unsupported response_format schema: {exc}") from None
    result = _last(messages, "tool")
    if result is not None and messages[-1] is result:
        try:
            value = json.loads(base._text_of(result.get("content")))
            if is_valid(schema, value):
                return json.dumps(value, ensure_ascii=False)
        except ValueError:
            pass
    return json.dumps(instance(schema, seed=seed), ensure_ascii=False)


def _tool_answer(messages: list[Mapping[str, Any]]) -> str | None:
    if not messages or messages[-1].get("role") != "tool":
        return None
    results = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.append(base._text_of(message.get("content")))
    return "The tool said: " + "; ".join(reversed(results))


def _cut(text: str, stop: Any) -> str:
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    cuts = [text.find(s) for s in stops if isinstance(s, str) and s and s in text]
    return text[: min(cuts)] if cuts else text


def _choice(body: Mapping[str, Any], messages: list[Mapping[str, Any]], index: int) -> _Choice:
    user = _last(messages, "user")
    prompt = base._text_of(user.get("content")) if user is not None else ""
    seed = json.dumps([prompt, body.get("model"), body.get("seed"), index, len(messages)])
    limit, _ = base._token_limit(body)
    has_limit = any(body.get(k) is not None for k in ("max_completion_tokens", "max_tokens"))
    after_tool = bool(messages) and messages[-1].get("role") == "tool"
    out = _Choice()
    for number, tool in enumerate(_chosen(body, _tools(body), prompt, after_tool)):
        args = json.dumps(_arguments(tool, prompt, f"{seed}/{number}"), ensure_ascii=False)
        digest = hashlib.blake2b(f"{seed}/{number}".encode(), digest_size=12).hexdigest()
        out.calls.append(_Call(f"call_{digest}", tool["name"], args))
        out.call_pieces.append(_pieces(args))
    if out.calls:
        out.finish_reason = "tool_calls"
        while has_limit and out.tokens() > limit and any(out.call_pieces):
            next(p for p in reversed(out.call_pieces) if p).pop()
            out.finish_reason = "length"
        return out
    text = _json_text(body, messages, seed)
    if text is not None and "refuse" in prompt.lower():
        out.refusal = _REFUSAL
        out.pieces = []
        return out
    if text is None:
        text = _tool_answer(messages) or "".join(
            base.generate_tokens(prompt, model=str(body.get("model")), seed=None, count=8, choice=index)
        )
    cut = _cut(text, body.get("stop"))
    out.pieces = _pieces(cut)
    if has_limit and len(out.pieces) > limit:
        out.pieces = out.pieces[:limit]
        out.finish_reason = "length"
    return out


def _applies(body: Mapping[str, Any], messages: list[Mapping[str, Any]]) -> bool:
    fmt = body.get("response_format")
    formatted = isinstance(fmt, Mapping) and fmt.get("type") in ("json_schema", "json_object")
    return bool(body.get("tools")) or formatted or messages[-1].get("role") == "tool"


class Answer:
    """The planned answer of one request: render it whole or as chunks."""

    def __init__(self, body: Mapping[str, Any], messages: list[Mapping[str, Any]]) -> None:
        self.model = base._model_of(body)
        count = base._int(body, "n", 1, 1, base.MAX_CHOICES)
        self.choices = [_choice(body, messages, i) for i in range(count)]
        self.prompt_tokens = sum(base._count_words(base._text_of(m.get("content"))) for m in messages)
        self.created = int(time.time())
        self.id = f"chatcmpl-{uuid.uuid4().hex}"

    def usage(self) -> Json:
        completion = sum(c.tokens() for c in self.choices)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    def completion(self) -> Json:
        choices = []
        for index, choice in enumerate(self.choices):
            message: Json = {
                "role": "assistant",
                "content": "".join(choice.pieces) if choice.pieces else None,
            }
            if choice.refusal is not None:
                message["refusal"] = choice.refusal
            if choice.calls:
                message["tool_calls"] = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": "".join(p)}}
                    for c, p in zip(choice.calls, choice.call_pieces, strict=True)
                ]
            choices.append(
                {"index": index, "message": message, "logprobs": None, "finish_reason": choice.finish_reason}
            )
        head = {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model}
        return {**head, "choices": choices, "usage": self.usage()}

    def _chunk(self, choices: list[Json], usage: Json | None = None) -> Json:
        head = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }
        return {**head, "choices": choices, "usage": usage}

    def chunks(self) -> list[Json]:
        out: list[Json] = []
        for index, choice in enumerate(self.choices):

            def emit(delta: Json, finish: str | None = None, index: int = index) -> None:
                out.append(
                    self._chunk([{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}])
                )

            emit({"role": "assistant", "content": ""})
            for number, (call, pieces) in enumerate(zip(choice.calls, choice.call_pieces, strict=True)):
                head = {"index": number, "id": call.id, "type": "function"}
                emit({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
                for piece in pieces:
                    emit({"tool_calls": [{"index": number, "function": {"arguments": piece}}]})
            if choice.refusal is not None:
                emit({"refusal": choice.refusal})
            for piece in choice.pieces:
                emit({"content": piece})
            emit({}, choice.finish_reason)
        out.append(self._chunk([], self.usage()))
        return out


def answer(body: Mapping[str, Any]) -> Answer | None:
    """The tool-call / JSON answer of a chat request, or None when the plain model answers it."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, Mapping) for m in messages):
        return None  # the plain model reports the malformed request
    return Answer(body, messages) if _applies(body, messages) else None


def chat_completion(body: Mapping[str, Any]) -> dict[str, Any]:
    """The built-in model's chat answer: a tool call, tool-result or JSON answer when the request asks for
    one (see :func:`answer`), else :func:`model.chat_completion`'s."""
    base._reject_stream_options(body)
    special = answer(body)
    return special.completion() if special is not None else base.chat_completion(body)


def chat_completion_chunks(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Streamed :func:`chat_completion` (vLLM-shaped chunks, the usage chunk last)."""
    special = answer(body)
    return special.chunks() if special is not None else base.chat_completion_chunks(body)
