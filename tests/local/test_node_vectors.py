"""Protocol §9: a node holding the vector's keys, with fixed nonces, reproduces the vector bytes exactly.

The §9 plaintexts come from an OpenAI-compatible upstream (a tiny loopback app), so this also exercises
``--upstream`` mode, non-streamed and streamed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from atoma_sdk.confidential.envelope import ClientSession
from atoma_sdk.confidential.sui import SuiKeyPair
from atoma_sdk.local import LocalNode, NodeConfig
from atoma_sdk.local.server import BackgroundServer

MODEL = "meta-llama/Llama-3.3-70B-Instruct"
NODE_PRIVATE = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
CLIENT_PRIVATE = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
SALT = bytes(range(16))
REQUEST_NONCE = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaab")
REQUEST_BODY = (
    b'{"ciphertext":"GhcwlVpat0OTPx8ARSJw3TGTe5dig2a8x/9FILpPAkBU5oS89up+a6d9zhfpAQpza1z11LzKECSJNYDkzvkLzQ8pPydowP5'
    b'txzXsUemtKxCki1VrVcXg6QHlLT7Bj7WGippKZ3LQQ1pzCl9oraH23c28VOaf/C/Z57gj","client_dh_public_key":"hSDwCYkwp1R0i'
    b'33ctD73Wg2/Og0mOBr066SpjqqbTmo=","model_name":"meta-llama/Llama-3.3-70B-Instruct","node_dh_public_key":"3p7bfXt'
    b'9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=","nonce":"oKGio6Slpqeoqaqr","plaintext_body_hash":"qz/E3CvwVJ5v43ctZHCenE'
    b'KEug1i7GrcgvkgrBdXEWg=","salt":"AAECAwQFBgcICQoLDA0ODw==","stack_small_id":42,"stream":false}'
)
RESPONSE_PLAINTEXT = (
    b'{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"meta-llama/Llama-3.3-70B-Instr'
    b'uct","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],"usage":{"'
    b'prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'
)
RESPONSE_BODY = (
    b'{"nonce":"sLGys7S1tre4ubq7","ciphertext":"ZOOZlLHta3aac2+KKfPAupuKznkO7c6jit2wOnKSRX+NmUpcZ+Rig9yIcDYFYr6M8/7'
    b"v1US6G7x9VL+KZEzb7nHYkmRfgqDjh2WvQ20RLt+K3myTX6k2omcuVVsyu61bxhu3th4eQPp5gYSUd1xMikcuj/j6egP8PVG3DBo74CmcNMB3"
    b"5y9Avzvc5jd1s8DufsQiozr0xKngEmhPNBMDIcNgTUdSXc50mdrxfLLhy/b29DwM0iqIW1QH1LMWxsRXoFhJnEmhroLb1Nj86LFO4mYqQymEY"
    b'URCyN9iGJROBRhoc+jW9lx2V1kLRezdYeFWD5UhA8UnceCsg0k64gMxgrS0EEbgq1V8PBpq8ahnMFgymv/tbfzIsGnk35Ke9HnW","respons'
    b'e_hash":"HCRp304miLdQ5d/65niuebs8bjSrFgFS5ZIELMzK3Ps=","signature":"AFP904BCAMFo1IU71Z7xkhhQiZ0IkOOuS4DjFyNet5B'
    b'9Zawuuw0NOFidsmaAXAYw10EtUFuWgJaXN6VZ2EtvFgzqSmxj4pxSCr71UHsTLsX5lUd2rr6+e5JCHuppFEbSLA==","usage":{"prompt_t'
    b'okens":5,"completion_tokens":2,"total_tokens":7}}'
)
CHUNK0 = (
    b'{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1700000001,"model":"meta-llama/Llama-3.3-70B-'
    b'Instruct","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":n'
    b'ull}],"usage":null}'
)
CHUNK1 = (
    b'{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1700000001,"model":"meta-llama/Llama-3.3-70B-'
    b'Instruct","choices":[],"usage":{"prompt_tokens":5,"total_tokens":7,"completion_tokens":2}}'
)
STREAM_BODY = (
    b'data: {"ciphertext":"'
    b"ELISHElD0FD0l3qECD/vA06aleP9CgPgwDyRmK0026BJwGAvFGBkgi6+/VKuKlMgPx3NP7Ifsz9+nNmz69pAOZVCU"
    b"BxvM5Tt9GizaANwBur29AV5HFS/Eh8OxWHoZkPAzn5txGKBgLpaRl+zHJPYEEtBcdZHu7FQJOMdfguNCoTUWuj/8IFcGFDCSFxjftTIyK4/YN"
    b"/7a15K2ySEq7feF40E/Exey9CKw70/Sym24wwHUC8rxQc+fd0JbHtJUePKoDRwCpOyJ/8kGRsS9OD/ljJrJLDwOAzC1IQ20sZ/CWRdUhHIzJHZ"
    b'4oHd2z7QyEDKQFWdbX8etjTfVBE=","nonce":"wMHCw8TFxsfIycrL","signature":"AK2sxrPCp9CQ8yuEciejmGM2s52B5sTB5GhjA13z'
    b'6z0w+t1SD3Z3/Q81APjcFl7UF99wsSnotfMyBUWSW1Tq5Q3qSmxj4pxSCr71UHsTLsX5lUd2rr6+e5JCHuppFEbSLA==","response_hash'
    b'":"A8CcXW6DQmHCPiFHoAW3OX9418foctJEfaTVgwLvXXc="}\n\n: keep-alive\n\n'
    b'data: {"ciphertext":"'
    b"ELISHElD0FD0l3qECD/vA06aleP9CgPgwDyRmK0026BJwGAvFGBkgi6+/VKuKlMgPx3NP7Ifsz9+nNmz69pAOZVCU"
    b"BxvM5Tt9GizaANwBur29AV5HFS/Eh8OxWHoZkPAzn5txGKBgLpaRl+zHJPYEEtBcdZHu7FQJOMdfguNCoTyVKPk54VDX0jIH1x3adfR2fhab5L"
    b'iYVxc2yST5ubZEYoR8X1ehpfNzqFzBXv0tU1SHxcugg57MN85f2RQW+/KoDQsAoLO2hmbzjUvNs6BvNgxCEHM","nonce":"wMHCw8TFxsf'
    b'IycrL","usage":{"prompt_tokens":5,"total_tokens":7,"completion_tokens":2},"signature":"APmM57kmZaKU6GbSsOE9h1ED'
    b'2U33NpyVsy5m/rwA+iJDfsmlAIN+NoOUGmwrPBxy41/42XBVgdxBXhjFtygM4gzqSmxj4pxSCr71UHsTLsX5lUd2rr6+e5JCHuppFEbSLA=="'
    b',"response_hash":"TzuA4qHMTpd6VdHpV6DzyPlPEdJiPO8Z/ytnmEUaZ80="}\n\n'
)


async def _vector_engine(request: Request) -> Response:
    body = json.loads(await request.body())
    if body.get("stream"):
        assert body["stream_options"] == {"include_usage": True}  # the node asks for the usage chunk

        async def events() -> object:
            for chunk in (CHUNK0, CHUNK1):
                yield b"data: " + chunk + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")  # type: ignore[arg-type]
    return Response(RESPONSE_PLAINTEXT, media_type="application/json")


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    server = BackgroundServer(
        Starlette(routes=[Route("/v1/chat/completions", _vector_engine, methods=["POST"])])
    )
    server.start()
    yield server.url + "/v1"
    server.stop()


def _vector_node(engine: str, nonce: bytes) -> LocalNode:
    return LocalNode(
        NodeConfig(
            models=(MODEL,),
            first_stack_small_id=42,
            upstream=engine,
            response_nonce=nonce,
            node_private_key=X25519PrivateKey.from_private_bytes(NODE_PRIVATE),
            signer=SuiKeyPair.from_seed(bytes([7]) * 32),
        )
    )


def test_non_streamed_response_body_matches_vector(engine: str) -> None:
    with _vector_node(engine, bytes.fromhex("b0b1b2b3b4b5b6b7b8b9babb")) as node:
        assert node.signer_address == "0xa0ccc8bcc83f6c628340134f8546a21e0618fd1aaa02432bba454c4a2c2233da"
        headers = {"authorization": f"Bearer {node.api_key}", "content-type": "application/json"}
        lock = httpx.post(node.url + "/v1/nodes/lock", json={"model": MODEL}, headers=headers).json()
        assert lock["public_key"] == "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
        assert lock["stack_small_id"] == 42
        response = httpx.post(
            node.url + "/v1/confidential/chat/completions", content=REQUEST_BODY, headers=headers
        )
    assert response.status_code == 200
    assert response.content == RESPONSE_BODY


def test_streamed_response_body_matches_vector(engine: str) -> None:
    with _vector_node(engine, bytes.fromhex("c0c1c2c3c4c5c6c7c8c9cacb")) as node:
        headers = {"authorization": f"Bearer {node.api_key}"}
        lock = httpx.post(node.url + "/v1/nodes/lock", json={"model": MODEL}, headers=headers).json()
        session = ClientSession.create(
            lock["public_key"], private_key=X25519PrivateKey.from_private_bytes(CLIENT_PRIVATE), salt=SALT
        )
        plaintext = (
            b'{"messages":[{"content":"Hello","role":"user"}],"model":"'
            + MODEL.encode()
            + b'","stream":true}'
        )
        body = {
            **session.encrypt_request(plaintext, nonce=REQUEST_NONCE),
            "model_name": MODEL,
            "stack_small_id": 42,
            "stream": True,
        }
        response = httpx.post(node.url + "/v1/confidential/chat/completions", json=body, headers=headers)
    assert response.status_code == 200
    # Keep-alives come after 15 ms of idleness (timing), so they are left out of the comparison.
    assert response.content.replace(b": keep-alive\n\n", b"") == STREAM_BODY.replace(b": keep-alive\n\n", b"")
