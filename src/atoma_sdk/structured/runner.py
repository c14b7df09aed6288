"""The verified-only tool runner behind ``confidential_chat.run_tools()`` / ``run_tools_async()``.

Each turn is one confidential call; the tool calls of an answer run only once that answer verified
(hash and signature; a stream only after it verified complete). One decision per step, shared by sync and
async: :func:`check_policy`, :func:`verified_calls`, :func:`execute` / :func:`execute_async`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic
import pydantic_core

from .. import errors
from .schema import arguments_model, function_tool

__all__ = [
    "DEFAULT_MAX_TURNS",
    "ToolRun",
    "check_policy",
    "execute",
    "execute_async",
    "record",
    "start",
    "verified_calls",
]

DEFAULT_MAX_TURNS = 10


@dataclass
class ToolRun:
    """What ``run_tools()`` did: each turn's verified response (with its ``receipt``) and the messages."""

    #: One verified ``ChatCompletionResponse`` per model call, in order (``turn.receipt`` on each).
    turns: list[Any] = field(default_factory=list)
    #: The conversation: the caller's messages, then each assistant answer and its tool results.
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: True when the turn limit stopped the loop while the model still asked for tools (not run).
    hit_turn_limit: bool = False

    @property
    def completion(self) -> Any:
        """The last verified response (the model's answer once it stopped calling tools)."""
        return self.turns[-1]

    @property
    def receipts(self) -> list[Any]:
        return [turn.receipt for turn in self.turns]


def check_policy(policy: Any) -> None:
    """Refuse to run tools when answers would not be fully verified."""
    if not (policy.verify_signatures and policy.require_signature and policy.require_response_hash):
        raise errors.ToolRunnerError(
            "run_tools() runs only verified tool calls: it needs a policy that checks hashes and signatures"
        )


def tool_table(tools: Sequence[Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    table: dict[str, Callable[..., Any]] = {}
    for fn in tools:
        if not callable(fn) or isinstance(fn, type | Mapping):
            raise TypeError("run_tools(tools=...) takes typed Python functions")
        table[fn.__name__] = fn
    return table


def start(
    messages: Sequence[Any], tools: Sequence[Callable[..., Any]], max_turns: int
) -> tuple[dict[str, Callable[..., Any]], ToolRun]:
    """The name -> function table and the run holding the caller's messages (as dicts)."""
    if max_turns < 1:
        raise ValueError("max_turns must be at least 1")
    run = ToolRun(messages=[_as_dict(m) for m in messages])
    return tool_table(tools), run


def _as_dict(message: Any) -> dict[str, Any]:
    if hasattr(message, "model_dump"):
        dumped: dict[str, Any] = message.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return dumped
    return dict(message)


def definitions(tools: Sequence[Callable[..., Any]]) -> list[dict[str, Any]]:
    return [function_tool(fn) for fn in tools]


def verified_calls(response: Any) -> list[Any]:
    """The first choice's tool calls, after checking the answer's receipt says it verified."""
    receipt = response.receipt
    if receipt is None or not (receipt.response_hash_verified and receipt.signature_verified):
        raise errors.ToolRunnerError("refusing to run tool calls from an answer that did not verify")
    if getattr(receipt, "streamed", False) and not receipt.complete:
        raise errors.ToolRunnerError("refusing to run tool calls from a stream that did not verify complete")
    message = response.choices[0].message
    return list(getattr(message, "tool_calls", None) or [])


def record(run: ToolRun, response: Any, max_turns: int) -> list[Any]:
    """Keep a turn's answer; the verified tool calls to run next (none: the loop ends)."""
    run.turns.append(response)
    calls = verified_calls(response)
    run.messages.append(assistant_message(response))
    if calls and len(run.turns) >= max_turns:
        run.hit_turn_limit = True
        return []
    return calls


def assistant_message(response: Any) -> dict[str, Any]:
    message = response.choices[0].message
    out: dict[str, Any] = {
        "role": "assistant",
        "content": message.content if isinstance(message.content, str) else None,
    }
    calls = getattr(message, "tool_calls", None) or []
    if calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments},
            }
            for c in calls
        ]
    return out


def _prepare(
    table: Mapping[str, Callable[..., Any]], call: Any
) -> tuple[Callable[..., Any], dict[str, Any]] | str:
    """The function and validated arguments of a call, or the error text sent back to the model."""
    fn = table.get(call.function.name)
    if fn is None:
        return f"error: no tool named {call.function.name!r}"
    try:
        args = arguments_model(fn).model_validate_json(call.function.arguments or "{}")
    except pydantic.ValidationError as exc:
        return f"error: invalid arguments for {fn.__name__}: {exc.error_count()} problem(s)"
    return fn, {name: getattr(args, name) for name in type(args).model_fields}


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(pydantic_core.to_jsonable_python(value), ensure_ascii=False)


def _failure(exc: Exception, on_error: str) -> str:
    if on_error == "raise":
        raise exc
    return f"error: {type(exc).__name__}: {exc}"


def _result(call: Any, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call.id, "content": content}


def execute(
    table: Mapping[str, Callable[..., Any]], calls: Sequence[Any], on_error: str
) -> list[dict[str, Any]]:
    """Run the calls in order; one tool message per call."""
    results = []
    for call in calls:
        prepared = _prepare(table, call)
        if isinstance(prepared, str):
            results.append(_result(call, prepared))
            continue
        fn, args = prepared
        if inspect.iscoroutinefunction(fn):
            raise errors.ToolRunnerError(f"{fn.__name__} is async: use run_tools_async()")
        try:
            content = _content(fn(**args))
        except Exception as exc:
            content = _failure(exc, on_error)
        results.append(_result(call, content))
    return results


async def execute_async(
    table: Mapping[str, Callable[..., Any]], calls: Sequence[Any], on_error: str
) -> list[dict[str, Any]]:
    """Run the calls concurrently (async functions awaited together, sync ones called in place)."""

    async def one(call: Any) -> dict[str, Any]:
        prepared = _prepare(table, call)
        if isinstance(prepared, str):
            return _result(call, prepared)
        fn, args = prepared
        try:
            value = fn(**args)
            if inspect.isawaitable(value):
                value = await value
            return _result(call, _content(value))
        except Exception as exc:
            return _result(call, _failure(exc, on_error))

    return list(await asyncio.gather(*(one(call) for call in calls)))
