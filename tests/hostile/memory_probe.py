"""Run one hostile answer against a fresh SDK in this process and print the peak-RSS growth (JSON).

``python tests/hostile/memory_probe.py lock|chat|ciphertext``: ``lock`` and ``chat`` answer the lock route
or the confidential chat route with a 1 MB gzip body that inflates to 1 GiB; ``ciphertext`` answers the chat
route with a 100 MB envelope. The growth is ``ru_maxrss`` after the call minus before it (the server, the
bomb and the SDK are all warmed up first).
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.hostile.server import HostileServer, Seen, Step, answer, bomb, lock_body, streamed

from atoma_sdk import AtomaSDK, VerificationPolicy

MiB = 1 << 20


def _ciphertext() -> Iterator[bytes]:
    yield b'{"nonce":"AAAAAAAAAAAAAAAA","ciphertext":"'
    block = b"A" * MiB
    for _ in range(100):
        yield block
    yield b'"}'


def main(mode: str) -> dict[str, Any]:
    payload = bomb()
    hostile = {"on": False}

    def reply(seen: Seen) -> Any:
        chat_route = seen.path.startswith("/v1/confidential")
        if hostile["on"] and (mode == "lock") != chat_route:
            if mode == "ciphertext":
                return streamed(200, _ciphertext())
            return answer(200, payload, {"Content-Encoding": "gzip"})
        if chat_route:
            return answer(500, {"error": {"code": "X", "message": "warm-up"}})
        return answer(200, lock_body())

    server = HostileServer(reply).start()
    policy = VerificationPolicy(attestation="off", nonce_reuse="ignore")
    sdk = AtomaSDK(bearer_auth="t" * 32, server_url=server.url, retry_config=None, verification=policy)
    messages: Any = [{"role": "user", "content": "hi"}]
    with contextlib.suppress(Exception):  # warm-up: every import and code path the hostile call takes
        sdk.confidential_chat.create(messages=messages, model="m")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hostile["on"] = True
    error = "none"
    try:
        if mode == "lock":
            sdk.nodes.nodes_create_lock(model="m")
        else:
            sdk.confidential_chat.create(messages=messages, model="m")
    except Exception as exc:
        error = type(exc).__name__
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sdk.close()
    server.stop()
    return {"mode": mode, "error": error, "growth_mb": (after - before) / 1024.0}


_: list[Step] = []

if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
