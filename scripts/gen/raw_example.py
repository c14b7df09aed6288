"""The runnable raw wire-form example of a confidential operation's docs page.

It does by hand what the plaintext form does: lock a node, encrypt the plaintext request with
``atoma_sdk.confidential.envelope.ClientSession``, send the sealed fields, decrypt the answer (no
signature or hash verification: that is the plaintext form's job).
"""

from __future__ import annotations

from typing import Any

from .spec import Api, Operation, Resource
from .text import literal

#: Raw wire fields ``ClientSession.encrypt_request`` returns.
SEALED = ("ciphertext", "client_dh_public_key", "node_dh_public_key", "nonce", "plaintext_body_hash", "salt")


def _request_lines(values: dict[str, Any]) -> list[str]:
    lines = ["request = {"]
    for key, value in values.items():
        text = "model" if key == "model" else literal(value)
        if isinstance(value, list) and len(text) > 70:
            text = "[\n" + "".join(f"        {literal(v)},\n" for v in value) + "    ]"
        lines.append(f"    {literal(key)}: {text},")
    return [*lines, "}"]


def _lock_lines(flow: str) -> list[str]:
    if flow != "images":
        return ["    lock = atoma_sdk.nodes.nodes_create_lock(model=model)"]
    # An image's compute units are its pixels: the lock must cover them, the request declares them.
    return [
        "    units = 1024 * 1024  # pixels to generate (size x n): locked and declared alike",
        "    lock = atoma_sdk.nodes.nodes_create_lock(model=model, max_num_tokens=units)",
    ]


def raw_example(api: Api, res: Resource, op: Operation, plain_values: dict[str, Any], env: str) -> str:
    """``plain_values``: the plaintext example's required arguments (wire name -> value)."""
    conf = op.confidential
    assert conf is not None
    values = {**plain_values, **dict(op.plain_fixed)}
    model = values.get("model", "<model>")
    args = []
    for p in op.params:
        wire = p.field.wire
        if wire in SEALED:
            args.append(f'{p.name}=sealed["{wire}"]')
        elif wire == "model_name":
            args.append(f"{p.name}=model")
        elif wire == "stack_small_id":
            args.append(f"{p.name}=lock.stack_small_id")
        elif wire == "num_compute_units" and conf.flow == "images":
            args.append(f"{p.name}=units")
    call = f"atoma_sdk.{res.module}.{op.method_name}(\n" + "".join(f"        {a},\n" for a in args) + "    )"
    lines = [
        "import json",
        "import os",
        "",
        "from atoma_sdk import AtomaSDK",
        "from atoma_sdk.confidential.envelope import ClientSession",
        "",
        f"model = {literal(model)}",
        f"# The plaintext request (models.{conf.request}), encrypted by hand below.",
        *_request_lines(values),
        "",
        f'with AtomaSDK(bearer_auth=os.getenv("{env}", "")) as atoma_sdk:',
        *_lock_lines(conf.flow),
        "    session = ClientSession.create(lock.public_key)",
        "    sealed = session.encrypt_request(json.dumps(request).encode())",
    ]
    if op.stream:
        lines += [
            f"    with {call} as stream:",
            "        for event in stream:  # each chunk is encrypted with its own nonce",
            "            print(json.loads(session.decrypt(event.data.ciphertext, event.data.nonce)))",
        ]
    else:
        lines += [
            f"    res = {call}",
            "",
            "    print(json.loads(session.decrypt(res.ciphertext, res.nonce)))",
        ]
    return "\n".join(lines)
