"""The node's mutable state: its X25519 key (rotatable), Sui signer, locks and faults."""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ..confidential.envelope import b64e, body_hash, public_key_bytes
from ..confidential.sui import SuiKeyPair
from .attestation import LocalAttestation
from .config import NodeConfig
from .faults import Faults
from .locks import LockTable


class NodeState:
    """Shared by every request of one node (and by the thread that controls it)."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.signer = config.signer if config.signer is not None else SuiKeyPair.generate()
        self.locks = LockTable()
        self.faults = Faults()
        self.stacks = {model: config.first_stack_small_id + i for i, model in enumerate(config.models)}
        self.stack_ids = frozenset(self.stacks.values())
        self._guard = threading.Lock()
        key = config.node_private_key if config.node_private_key is not None else X25519PrivateKey.generate()
        self._key = (key, b64e(public_key_bytes(key)))
        self.attestation = LocalAttestation(config.attestation_devices, config.key_rotation_nonce)

    @property
    def private_key(self) -> X25519PrivateKey:
        return self._key[0]

    @property
    def public_key(self) -> str:
        """The current X25519 public key, standard base64 (what ``/v1/nodes/lock`` hands out)."""
        return self._key[1]

    def rotate_key(self) -> str:
        """Replace the X25519 key (requests sealed to the old key then fail); returns the new public key."""
        key = X25519PrivateKey.generate()
        with self._guard:
            self._key = (key, b64e(public_key_bytes(key)))
        self.attestation.rotated()
        return self._key[1]

    def sign(self, plaintext: bytes) -> tuple[str, str]:
        """``(response_hash_b64, signature_b64)`` over the exact plaintext bytes."""
        digest = body_hash(plaintext)
        return b64e(digest), self.signer.sign_hash(digest)
