"""What ``inspect.signature`` and ``help()`` show for a confidential method's ``**kwargs`` implementation.

The implementation takes ``**kwargs`` (it accepts two keyword forms); the typed overloads are for type
checkers only. So that run-time introspection shows the form users call, the generator emits a private
module-level stub per method with the plaintext form's signature, and decorates the implementation with
``plaintext_signature(stub)`` (``atoma_sdk._runtime.signature``). The implementation's docstring documents
both forms, each with its parameters.
"""

from __future__ import annotations

from .spec import Operation, Param
from .text import docstring

#: The keyword both plaintext forms add to the request fields.
VERIFICATION_DOC = (
    ":param verification: The VerificationPolicy of this call (attestation, unsigned-answer rules); "
    "None uses the SDK's."
)


def stub_name(method: str) -> str:
    """``create_async`` -> ``_create_async_plaintext``."""
    return f"_{method}_plaintext"


def stub(method: str, class_name: str, signature: str) -> str:
    """A module-level stub from a method ``signature`` (as rendered in a class, ``def`` or ``async def``)."""
    lines = signature.replace("    async def ", "    def ", 1).splitlines()
    body = "\n".join(line[4:] if line.startswith("    ") else line for line in lines)
    body = body.replace(f"def {method}(", f"def {stub_name(method)}(", 1)
    body = body.replace("    self,\n", "    self: object,\n", 1)
    doc = docstring(f"The plaintext form's signature of ``{class_name}.{method}`` (never called).", "    ")
    return f"{body}\n{doc}    raise NotImplementedError\n\n"


def _param_lines(params: tuple[Param, ...]) -> list[str]:
    lines = []
    for p in params:
        desc = p.field.description.split("\n\n")[0].replace("\n", " ")
        lines.append(f":param {p.name}: {desc or p.field.wire}")
    return lines


def forms_doc(op: Operation, twin: Operation | None, *, fixed_stream: bool) -> str:
    """The text (summary, description, both forms with their parameters) of a confidential method."""
    conf = op.confidential
    assert conf is not None
    if op.stream:
        plain_returns = f"a stream of verified {conf.stream_item} chunks"
        raw_returns = f"a stream of {op.response} events (still encrypted)"
    else:
        plain_returns = f"the verified {conf.response}"
        raw_returns = f"{op.response} (still encrypted)"
    plain = (
        f"**Plaintext form** (the usual call): ``{conf.marker}=...`` and the other {conf.request} fields. "
        f"The SDK locks a node, encrypts, sends, decrypts and verifies; returns {plain_returns}."
    )
    if twin is not None:
        plain += f" ``stream=True`` returns what ``{twin.method_name}`` returns."
    elif fixed_stream:
        plain += " ``stream`` may be passed, as True only."
    required = ", ".join(f"``{p.name}``" for p in op.params if p.field.required)
    raw = (
        f"**Raw wire form**: {required} (an already encrypted {op.request}: "
        "``atoma_sdk.confidential.envelope.ClientSession.create(lock.public_key).encrypt_request(...)`` "
        f"builds its encryption fields) is sent as is; returns {raw_returns}."
    )
    parts = [op.summary or op.method_name, op.description, plain, "\n".join([
        *_param_lines(op.plain_params), VERIFICATION_DOC
    ]), raw, "\n".join(_param_lines(op.params)), (
        "Passing both forms, or neither, raises TypeError; the per-call options (``retries``, "
        "``server_url``, ``timeout_ms``, ``http_headers``, ``extra_body``) apply to both."
    )]
    return "\n\n".join(p for p in parts if p)
