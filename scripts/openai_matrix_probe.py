"""One cell of ``scripts/openai-matrix``: the installed openai (and langchain-openai) against a local node.

Run inside a matrix venv; prints one line per check and a final JSON summary line; exits 1 on any failure.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

import openai
from atoma_sdk.local import LocalNode, NodeConfig
from atoma_sdk.openai import (
    AsyncConfidentialOpenAI,
    ConfidentialOpenAI,
    async_confidential_http_client,
    confidential_http_client,
)
from atoma_sdk.openai.client import uses_httpx2

CHAT = "meta-llama/Llama-3.3-70B-Instruct"
EMBED = "intfloat/multilingual-e5-large-instruct"
PROMPT = "which versions speak confidentially?"
MESSAGES: list[Any] = [{"role": "user", "content": PROMPT}]
RESULTS: dict[str, str] = {}


def check(name: str, run: Callable[[], Any]) -> None:
    try:
        run()
    except Exception as exc:
        RESULTS[name] = f"FAIL {type(exc).__name__}: {exc}"
        traceback.print_exc()
    else:
        RESULTS[name] = "ok"
    print(f"  {name:<28} {RESULTS[name]}", flush=True)


class Counting(httpx.BaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.paths: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path] += 1
        return self.inner.handle_request(request)


def expected_text(node: LocalNode) -> str:
    response = httpx.post(
        f"{node.url}/v1/chat/completions",
        json={"model": CHAT, "messages": MESSAGES},
        headers={"Authorization": f"Bearer {node.api_key}"},
    )
    text: str = response.json()["choices"][0]["message"]["content"]
    return text


def openai_checks(node: LocalNode, expected: str) -> None:
    base = node.url + "/v1"
    receipts: list[Any] = []
    client = ConfidentialOpenAI(api_key=node.api_key, base_url=base, on_receipt=receipts.append)

    def chat() -> None:
        answer = client.chat.completions.create(model=CHAT, messages=MESSAGES)
        assert answer.choices[0].message.content == expected, "chat answer differs"
        assert receipts and receipts[-1].complete and receipts[-1].signature_verified, "no verified receipt"

    def chat_stream() -> None:
        chunks = list(client.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected, "streamed text differs"
        assert all(c.choices for c in chunks), "usage chunk without include_usage"

    def chat_stream_usage() -> None:
        stream = client.chat.completions.create(
            model=CHAT, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
        assert chunks[-1].choices == [] and chunks[-1].usage is not None, "no usage chunk"

    def completions() -> None:
        answer = client.completions.create(model=CHAT, prompt="enclave", max_tokens=6)
        assert answer.choices[0].text, "empty completion"

    def embeddings() -> None:
        answer = client.embeddings.create(model=EMBED, input=["a", "b c"])
        assert len(answer.data) == 2 and len(answer.data[0].embedding) > 0, "bad embeddings"

    def async_chat_stream() -> None:
        async def run() -> str:
            aclient = AsyncConfidentialOpenAI(api_key=node.api_key, base_url=base)
            stream = await aclient.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        assert asyncio.run(run()) == expected, "async streamed text differs"

    def tampering() -> None:
        inner = Counting()
        strict = ConfidentialOpenAI(api_key=node.api_key, base_url=base, inner_transport=inner, max_retries=2)
        node.faults.corrupt_chunk(0, route="/v1/confidential/chat/completions")
        try:
            strict.chat.completions.create(model=CHAT, messages=MESSAGES)
        except openai.APIStatusError as exc:
            assert exc.status_code == 502, f"status {exc.status_code}"
        else:
            raise AssertionError("a tampered answer was accepted")
        assert inner.paths["/v1/nodes/lock"] == 1, "the client retried a verification failure"

    def truncation() -> None:
        node.faults.truncate_after(2, route="/v1/confidential/chat/completions")
        try:
            list(client.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True))
        except openai.APIError:
            return
        raise AssertionError("a truncated stream ended quietly")

    for name, run in [
        ("openai chat", chat),
        ("openai chat stream", chat_stream),
        ("openai chat stream+usage", chat_stream_usage),
        ("openai completions", completions),
        ("openai embeddings", embeddings),
        ("openai async chat stream", async_chat_stream),
        ("openai tampering -> 502", tampering),
        ("openai truncation -> error", truncation),
    ]:
        check(name, run)
        node.faults.clear()


def langchain_checks(node: LocalNode, expected: str) -> None:
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(
        model=CHAT,
        base_url=node.url + "/v1",
        api_key=node.api_key,  # type: ignore[arg-type]
        http_client=confidential_http_client(),
        http_async_client=async_confidential_http_client(),
    )

    def invoke() -> None:
        assert model.invoke(PROMPT).content == expected

    def stream() -> None:
        text = "".join(str(part.content) for part in model.stream(PROMPT))
        assert text == expected, "streamed text differs"

    async def ainvoke_and_astream() -> tuple[str, str]:
        # One event loop for both: an async http client's connections belong to the loop that opened them.
        answer = await model.ainvoke(PROMPT)
        parts = [str(part.content) async for part in model.astream(PROMPT)]
        return str(answer.content), "".join(parts)

    async_results: list[tuple[str, str]] = []

    def ainvoke() -> None:
        async_results.append(asyncio.run(ainvoke_and_astream()))
        assert async_results[0][0] == expected, "ainvoke answer differs"

    def astream() -> None:
        assert async_results and async_results[0][1] == expected, "async streamed text differs"

    for name, run in [
        ("langchain invoke", invoke),
        ("langchain stream", stream),
        ("langchain ainvoke", ainvoke),
        ("langchain astream", astream),
    ]:
        check(name, run)


def version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def main() -> int:
    info = {
        "openai": version("openai"),
        "http": "httpx2" if uses_httpx2() else "httpx",
        "langchain-openai": version("langchain-openai"),
        "python": sys.version.split()[0],
    }
    langchain = info["langchain-openai"]
    print(f"  openai {info['openai']} on {info['http']}; langchain-openai {langchain}", flush=True)
    with LocalNode(NodeConfig(unique_chunk_nonces=True)) as node:
        expected = expected_text(node)
        openai_checks(node, expected)
        if info["langchain-openai"] is not None:
            langchain_checks(node, expected)
    print(json.dumps({"info": info, "results": RESULTS}), flush=True)
    return 0 if all(value == "ok" for value in RESULTS.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
