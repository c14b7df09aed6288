"""The subcommands: ``run_<name>(args, out, err) -> exit status``. Each imports the SDK when it runs."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from .exits import EXIT_OK, EXIT_USAGE, CLIError
from .render import collect_warnings, format_receipt
from .target import open_sdk

if TYPE_CHECKING:
    from ..confidential.policy import VerificationPolicy

DEFAULT_CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
UPSTREAM_KEY_ENV = "ATOMA_UPSTREAM_API_KEY"


def _write(stream: TextIO, text: str) -> None:
    stream.write(text)
    stream.flush()


def _dump(value: Any) -> Any:
    """A pydantic model (or anything else) as plain JSON data."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


# -- atoma node ------------------------------------------------------------------------------------


def run_node(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Serve a local node in the foreground until Ctrl-C / SIGTERM (then exit 0)."""
    try:
        from ..local.config import NodeConfig
        from ..local.server import serve
    except ImportError:
        raise CLIError("the local node needs the 'local' extra: pip install 'atoma-sdk[local]'") from None
    options: dict[str, Any] = {
        "token_delay": args.token_delay,
        "unique_chunk_nonces": args.unique_nonces,
        "completions_stream_quirk": not args.native_completions_streams,
    }
    if args.api_key is not None:
        options["api_key"] = args.api_key
    if args.admin_token is not None:
        options["admin_token"] = args.admin_token
    if args.models:
        options["models"] = tuple(dict.fromkeys(args.models))
    if args.upstream is not None:
        options["upstream"] = args.upstream
        options["upstream_api_key"] = os.environ.get(UPSTREAM_KEY_ENV) or None
    config = NodeConfig(**options)

    def ready(url: str, state: Any) -> None:
        details = {
            "url": url,
            "api_key": config.api_key,
            "signer_address": state.signer.address,
            "admin_token": config.admin_token,
            "models": list(config.models),
            "upstream": config.upstream,
        }
        _write(out, _node_banner(details, as_json=args.json))

    with contextlib.suppress(KeyboardInterrupt):  # a signal before the server took over its handling
        serve(config, host=args.host, port=args.port, on_ready=ready)
    _write(err, "atoma: node stopped\n")
    return EXIT_OK


def _node_banner(details: dict[str, Any], *, as_json: bool) -> str:
    if as_json:
        return json.dumps(details) + "\n"
    answers = f"upstream {details['upstream']}" if details["upstream"] else "built-in deterministic model"
    lines = [
        f"atoma local node ({answers}; Ctrl-C to stop)",
        f"url:            {details['url']}",
        f"api key:        {details['api_key']}",
        f"signer address: {details['signer_address']}",
        f"admin token:    {details['admin_token']}",
        f"models:         {', '.join(details['models'])}",
        "",
        f"try: ATOMASDK_BEARER_AUTH={details['api_key']} "
        f"atoma chat --server-url {details['url']} --stream \"Hello\"",
    ]
    return "\n".join(lines) + "\n"


# -- atoma chat ------------------------------------------------------------------------------------


def _prompt(text: str) -> str:
    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise CLIError("the prompt is empty", EXIT_USAGE)
    return text


def _chat_params(args: argparse.Namespace, prompt: str, base: VerificationPolicy | None) -> dict[str, Any]:
    messages = [{"role": "system", "content": args.system}] if args.system else []
    messages.append({"role": "user", "content": prompt})
    params: dict[str, Any] = {"messages": messages, "model": args.model or DEFAULT_CHAT_MODEL}
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    if args.seed is not None:
        params["seed"] = args.seed
    from ..confidential.policy import DEFAULT_POLICY

    # The SDK's policy (for an in-process node: enforced attestation against its synthetic evidence),
    # adjusted by the command's options.
    policy = base or DEFAULT_POLICY
    pinned = frozenset(args.signers) if args.signers else None
    params["verification"] = policy.with_(
        nonce_reuse=args.nonce_reuse,
        pinned_signers=pinned,
        attestation=args.attestation or policy.attestation,
    )
    return params


def _streamed(chat: Any, params: dict[str, Any], out: TextIO | None) -> tuple[str, Any, Any, Any]:
    """Stream the answer (to ``out`` as it arrives, when given); returns (text, finish, usage, receipt)."""
    parts: list[str] = []
    finish = None
    try:
        with chat.create_stream(**params) as stream:
            for item in stream:
                for choice in item.data.choices:
                    text = choice.delta.content if choice.index == 0 else None
                    if choice.index == 0 and choice.finish_reason is not None:
                        finish = choice.finish_reason
                    if isinstance(text, str) and text:
                        parts.append(text)
                        if out is not None:
                            _write(out, text)
    finally:
        if out is not None and parts:
            _write(out, "\n")  # end the answer's line even when the stream failed or was interrupted
    return "".join(parts), finish, stream.usage, stream.receipt


def _answered(chat: Any, params: dict[str, Any], out: TextIO | None) -> tuple[str, Any, Any, Any]:
    """One non-streamed answer (printed to ``out`` when given); returns (text, finish, usage, receipt)."""
    result = chat.create(**params)
    first = result.choices[0] if result.choices else None
    message = first.message.content if first is not None else None
    content = message if isinstance(message, str) else ""
    if out is not None:
        _write(out, content + "\n")
    return content, (first.finish_reason if first else None), result.usage, result.receipt


def run_chat(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """One confidential chat; the answer on stdout, warnings and the receipt on stderr (or JSON on stdout)."""
    prompt = _prompt(args.prompt)
    ask = _streamed if args.stream else _answered
    with open_sdk(args, err) as sdk, collect_warnings() as recorded:
        params = _chat_params(args, prompt, sdk.sdk_configuration.verification)
        content, finish, usage, receipt = ask(sdk.confidential_chat, params, None if args.json else out)
        warnings = recorded.messages()
    lines = [f"atoma: warning: {text}" for text in warnings]
    if args.json:
        document = {
            "model": params["model"],
            "content": content,
            "finish_reason": _dump(finish),
            "usage": _dump(usage),
            "receipt": receipt.to_dict(),
            "warnings": warnings,
        }
        _write(out, json.dumps(document) + "\n")
    else:
        lines += format_receipt(receipt)
    if lines:
        _write(err, "\n".join(lines) + "\n")
    return EXIT_OK


# -- atoma models / atoma health -------------------------------------------------------------------


def run_models(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """List the server's models, one id per line (or the list as JSON)."""
    with open_sdk(args, err) as sdk:
        listing = sdk.models_.models_list()
    if args.json:
        _write(out, json.dumps(_dump(listing)) + "\n")
    else:
        _write(out, "".join(f"{model.id}\n" for model in listing.data))
    return EXIT_OK


def run_health(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Check the server; prints its answer (``ok``)."""
    with open_sdk(args, err) as sdk:
        health = sdk.health.health()
    _write(out, (json.dumps(_dump(health)) if args.json else str(health.message)) + "\n")
    return EXIT_OK
