"""Async start, concurrency, the pytest plugin fixture, and LocalNode's lifecycle."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from atoma_sdk.confidential.envelope import ClientSession
from atoma_sdk.errors import AtomaError
from atoma_sdk.local import LocalNode, NodeConfig

from .support import CHAT, CHAT_MODEL, COMPLETIONS, chat_body, dumps


@pytest.mark.anyio
async def test_async_start_and_concurrent_confidential_calls() -> None:
    async with LocalNode(NodeConfig(token_delay=0.001)) as node:
        headers = {"authorization": f"Bearer {node.api_key}"}
        texts: dict[int, str] = {}
        async with httpx.AsyncClient(base_url=node.url, headers=headers, timeout=30) as http:

            async def one(i: int) -> None:
                # A long lock lifetime: under load, 48 concurrent calls can take longer than the 5 s default.
                lock = (await http.post("/v1/nodes/lock", json={"model": CHAT_MODEL, "timeout": 120})).json()
                session = ClientSession.create(lock["public_key"])
                body = {
                    **session.encrypt_request(dumps({**chat_body(f"prompt {i % 4}"), "stream": True})),
                    "model_name": CHAT_MODEL,
                    "stack_small_id": lock["stack_small_id"],
                    "stream": True,
                }
                content = ""
                async with http.stream("POST", CHAT, json=body) as response:
                    assert response.status_code == 200
                    async for line in response.aiter_lines():
                        if line.startswith("data: "):
                            event = json.loads(line[6:])
                            chunk = json.loads(session.decrypt(event["ciphertext"], event["nonce"]))
                            content += "".join(c["delta"].get("content", "") for c in chunk["choices"])
                texts[i] = content

            async with anyio.create_task_group() as group:
                for i in range(48):
                    group.start_soon(one, i)
    assert len(texts) == 48
    assert all(texts[i] == texts[i % 4] for i in texts)  # same prompt, same text, however interleaved


def test_plugin_fixture(atoma_local_node: LocalNode) -> None:
    assert atoma_local_node.url.startswith("http://127.0.0.1:")
    assert atoma_local_node.signer_address.startswith("0x") and len(atoma_local_node.signer_address) == 66
    response = httpx.get(
        atoma_local_node.url + "/v1/models", headers={"authorization": f"Bearer {atoma_local_node.api_key}"}
    )
    assert response.status_code == 200
    atoma_local_node.faults.fail_next()
    assert httpx.get(atoma_local_node.url + "/health").status_code == 503


def test_lifecycle() -> None:
    node = LocalNode()
    with pytest.raises(AtomaError):
        _ = node.url
    with node:
        url = node.url
        assert httpx.get(url + "/health").status_code == 200
        assert node.api_key not in repr(node.config) and node.admin_token not in repr(node.config)
    node.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health")


def test_busy_port_is_a_typed_error(node: LocalNode) -> None:
    port = int(node.url.rsplit(":", 1)[1])
    with pytest.raises(AtomaError, match="cannot listen"):
        LocalNode(port=port).start()


def test_plugin_module_imports_without_the_server_stack() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import atoma_sdk.local.pytest_plugin; "
        "bad = [m for m in ('starlette', 'uvicorn', 'cryptography', 'httpx') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("route", "inner"), [(CHAT, chat_body()), (COMPLETIONS, {"model": CHAT_MODEL, "prompt": "x"})]
)
async def test_async_streams_in_the_default_mode(route: str, inner: dict[str, object]) -> None:
    """Keep-alives arrive while the model works (before its first chunk too); completions chunks never do."""
    async with LocalNode(NodeConfig(token_delay=0.03)) as node:
        headers = {"authorization": f"Bearer {node.api_key}"}
        async with httpx.AsyncClient(base_url=node.url, headers=headers, timeout=30) as http:
            lock = (await http.post("/v1/nodes/lock", json={"model": CHAT_MODEL})).json()
            session = ClientSession.create(lock["public_key"])
            body = {
                **session.encrypt_request(dumps({**inner, "stream": True})),
                "model_name": CHAT_MODEL,
                "stack_small_id": lock["stack_small_id"],
                "stream": True,
            }
            lines: list[str] = []
            async with http.stream("POST", route, json=body) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line:
                        lines.append(line)
    assert lines[0] == ": keep-alive"
    data = [line for line in lines if line.startswith("data: ")]
    assert all(line in (": keep-alive", *data) for line in lines) and "data: [DONE]" not in data
    if route == COMPLETIONS:
        assert data == []  # the proxy drops them (protocol.md §12.1)
    else:
        envelopes = [json.loads(d[6:]) for d in data]
        chunks = [json.loads(session.decrypt(e["ciphertext"], e["nonce"])) for e in envelopes]
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        assert chunks[-1]["usage"]["completion_tokens"] == 16
