"""The floor: a minimal hand-written confidential client (httpx + cryptography, no pydantic, no retries).

It does exactly what the protocol needs (lock, X25519 + HKDF + AES-256-GCM, post, decrypt, BLAKE2b check)
and, when asked, verifies each Ed25519 signature with ``cryptography`` or PyNaCl. With ``verify="nacl"`` it
uses libsodium for the X25519 key and exchange too, as atoma-sdk does with its ``[fast]`` extra, so a
comparison with the SDK uses the same crypto libraries on both sides. It is what the SDK is compared against;
``python -m benchmarks.floor`` serves it as a benchmark worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from benchmarks.protocol import measure_calls, measure_stream, serve

Verifier = Callable[[bytes, bytes, bytes], None]  # (public key, signature, message); raises if invalid

_b64d = base64.b64decode


def _b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def verify_cryptography(public_key: bytes, signature: bytes, message: bytes) -> None:
    Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)


def verify_nacl(public_key: bytes, signature: bytes, message: bytes) -> None:
    signing: Any = importlib.import_module("nacl.signing")  # PyNaCl: only in the .bench environment
    signing.VerifyKey(public_key).verify(message, signature)


VERIFIERS: dict[str, Verifier] = {"cryptography": verify_cryptography, "nacl": verify_nacl}


def exchange_cryptography(node_key: bytes) -> tuple[bytes, bytes]:
    """(fresh client public key, shared secret) with ``cryptography``."""
    private = X25519PrivateKey.generate()
    shared = private.exchange(X25519PublicKey.from_public_bytes(node_key))
    return private.public_key().public_bytes_raw(), shared


def exchange_nacl(node_key: bytes) -> tuple[bytes, bytes]:
    """(fresh client public key, shared secret) with libsodium (PyNaCl)."""
    bindings: Any = importlib.import_module("nacl.bindings")
    public, secret = bindings.crypto_box_keypair()
    return public, bindings.crypto_scalarmult(secret, node_key)


class FloorClient:
    """Lock + encrypt + post + decrypt (+ optional signature check) and nothing else."""

    def __init__(self, url: str, api_key: str, *, verify: str | None = None) -> None:
        self._http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"})
        self._verify = VERIFIERS[verify] if verify else None
        self._exchange = exchange_nacl if verify == "nacl" else exchange_cryptography

    def close(self) -> None:
        self._http.close()

    def _seal(self, model: str, body: dict[str, Any]) -> tuple[AESGCM, bytes]:
        lock = self._http.post("/v1/nodes/lock", json={"model": model}).json()
        node_key = _b64d(lock["public_key"])
        public, shared = self._exchange(node_key)
        salt, nonce = os.urandom(16), os.urandom(12)
        aead = AESGCM(HKDF(hashes.SHA256(), 32, salt, b"").derive(shared))
        plaintext = json.dumps(body, separators=(",", ":")).encode()
        wire = {
            "ciphertext": _b64e(aead.encrypt(nonce, plaintext, None)),
            "client_dh_public_key": _b64e(public),
            "node_dh_public_key": lock["public_key"],
            "nonce": _b64e(nonce),
            "plaintext_body_hash": _b64e(hashlib.blake2b(plaintext, digest_size=32).digest()),
            "salt": _b64e(salt),
            "model_name": model,
            "stack_small_id": lock["stack_small_id"],
            "stream": body["stream"],
        }
        return aead, json.dumps(wire, separators=(",", ":")).encode()

    def _open(self, aead: AESGCM, envelope: Mapping[str, Any]) -> bytes:
        plaintext = aead.decrypt(_b64d(envelope["nonce"]), _b64d(envelope["ciphertext"]), None)
        digest = hashlib.blake2b(plaintext, digest_size=32).digest()
        if not hmac.compare_digest(digest, _b64d(envelope["response_hash"])):
            raise ValueError("response hash mismatch")
        if self._verify is not None:
            signature = _b64d(envelope["signature"])
            if signature[0] != 0:
                raise ValueError("not an Ed25519 signature")
            self._verify(signature[65:97], signature[1:65], digest)
        return plaintext

    def create(self, messages: list[dict[str, Any]], model: str) -> dict[str, Any]:
        aead, wire = self._seal(model, {"messages": messages, "model": model, "stream": False})
        response = self._http.post(
            "/v1/confidential/chat/completions", content=wire, headers={"Content-Type": "application/json"}
        )
        response.raise_for_status()
        result: dict[str, Any] = json.loads(self._open(aead, response.json()))
        return result

    def stream(self, messages: list[dict[str, Any]], model: str, max_tokens: int) -> Iterator[dict[str, Any]]:
        body = {"messages": messages, "model": model, "stream": True, "max_tokens": max_tokens}
        aead, wire = self._seal(model, body)
        with self._http.stream(
            "POST",
            "/v1/confidential/chat/completions",
            content=wire,
            headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
        ) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if line.startswith("data:"):
                    chunk = json.loads(self._open(aead, json.loads(line[5:])))
                    if chunk["choices"]:
                        yield chunk


def verify_micro(n: int) -> dict[str, float]:
    """Seconds per Ed25519 verification of one 32-byte hash, for each available library."""
    key = Ed25519PrivateKey.generate()
    message = os.urandom(32)
    signature = key.sign(message)
    public = key.public_key().public_bytes_raw()
    out: dict[str, float] = {}
    for name, verifier in VERIFIERS.items():
        try:
            verifier(public, signature, message)
        except ImportError:
            continue
        start = time.process_time()
        for _ in range(n):
            verifier(public, signature, message)
        out[name] = (time.process_time() - start) / n
    return out


def main() -> None:
    clients: dict[str | None, FloorClient] = {}

    def client(args: Mapping[str, Any]) -> FloorClient:
        verify = args.get("verify")
        if verify not in clients:
            clients[verify] = FloorClient(args["url"], args["api_key"], verify=verify)
        return clients[verify]

    def create(args: Mapping[str, Any]) -> dict[str, float]:
        floor, messages, model = client(args), args["messages"], args["model"]
        return measure_calls(lambda: floor.create(messages, model), args["n"], args.get("warmup", 0))

    def stream(args: Mapping[str, Any]) -> dict[str, float]:
        floor, messages, model, tokens = client(args), args["messages"], args["model"], args["max_tokens"]
        return measure_stream(lambda: floor.stream(messages, model, tokens), args["n"], args.get("warmup", 0))

    def has_nacl(args: Mapping[str, Any]) -> dict[str, bool]:
        try:
            importlib.import_module("nacl.signing")
        except ImportError:
            return {"nacl": False}
        return {"nacl": True}

    serve(
        {
            "create": create,
            "stream": stream,
            "verify_micro": lambda args: verify_micro(args["n"]),
            "has_nacl": has_nacl,
        }
    )


if __name__ == "__main__":
    main()
