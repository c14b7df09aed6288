"""One confidential unit per intercepted request, keeping the verified plaintext bytes it decrypted.

The openai client must get exactly the OpenAI JSON the node signed, not a re-serialisation of parsed models,
so the unit's verifier records each plaintext once it has passed decryption, hash and signature checks.
A recorded plaintext is handed on only after the flow accepted it as a whole (schema, identity, splicing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._runtime.operation import RequestOptions
from ..confidential.engine import ConfidentialCall
from ..confidential.envelope import ClientSession
from ..confidential.policy import DEFAULT_POLICY, VerificationPolicy
from ..confidential.receipt import Receipt
from ..confidential.verify import AnswerVerifier
from ._request import Intercept

__all__ = ["RecordingCall", "unit_for"]


class _RecordingVerifier(AnswerVerifier):
    """An :class:`AnswerVerifier` that keeps every plaintext it verified, in order."""

    __slots__ = ("plaintexts",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.plaintexts: list[bytes] = []

    def open(self, answer: Mapping[str, Any]) -> bytes:
        plaintext = super().open(answer)
        self.plaintexts.append(plaintext)
        return plaintext


class RecordingCall(ConfidentialCall):
    """A single-attempt :class:`ConfidentialCall` (the openai client retries: each retry is a new unit)."""

    recorder: _RecordingVerifier | None = None

    def new_verifier(self, session: ClientSession, receipt: Receipt) -> AnswerVerifier:
        self.recorder = _RecordingVerifier(session, self.flow, self.model, self.policy, receipt)
        return self.recorder

    def take_plaintexts(self) -> list[bytes]:
        """The verified plaintexts recorded since the last call."""
        if self.recorder is None:
            return []
        taken, self.recorder.plaintexts = self.recorder.plaintexts, []
        return taken


def unit_for(runtime: Any, intercept: Intercept, policy: VerificationPolicy | None) -> RecordingCall:
    """The confidential unit for one intercepted request (no retries of its own; nothing is sent yet)."""
    headers = {"Authorization": intercept.authorization} if intercept.authorization else None
    options = RequestOptions(
        retries=None, server_url=intercept.server_url, timeout_ms=intercept.timeout_ms, http_headers=headers
    )
    return RecordingCall(
        runtime,
        intercept.op,
        intercept.flow,
        intercept.params,
        options,
        policy or DEFAULT_POLICY,
        stream=intercept.stream,
        num_compute_units=None,
    )
