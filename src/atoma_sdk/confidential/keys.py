"""Node-key pinning and trust on first use, with an alarm when a key changes without a rotation."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import KeyMismatchError

__all__ = ["NodeKeyPins"]


@dataclass(frozen=True, slots=True)
class _Pin:
    public_key: str
    rotation_counter: int | None


class NodeKeyPins:
    """Remembers each node's X25519 key (base64, as the lock returns it).

    ``pins`` fixes keys up front; with ``trust_on_first_use`` the first key seen for a node is pinned.
    A pinned node presenting another key raises :class:`~atoma_sdk.errors.KeyMismatchError`, unless
    attestation showed a newer key rotation (then the new key replaces the pin). Thread-safe.
    """

    def __init__(self, pins: Mapping[int, str] | None = None, *, trust_on_first_use: bool = True) -> None:
        self.trust_on_first_use = trust_on_first_use
        self._pins = {node: _Pin(key, None) for node, key in (pins or {}).items()}
        self._guard = threading.Lock()

    def check(self, node_small_id: int, public_key: str, rotation_counter: int | None = None) -> bool:
        """Accept ``public_key`` for the node or raise; returns whether the node is pinned now."""
        with self._guard:
            pin = self._pins.get(node_small_id)
            if pin is None:
                if self.trust_on_first_use:
                    self._pins[node_small_id] = _Pin(public_key, rotation_counter)
                    return True
                return False
            if pin.public_key == public_key:
                if rotation_counter is not None and pin.rotation_counter is None:
                    self._pins[node_small_id] = _Pin(public_key, rotation_counter)
                return True
            rotated = (
                rotation_counter is not None
                and pin.rotation_counter is not None
                and rotation_counter > pin.rotation_counter
            )
            if not rotated:
                raise KeyMismatchError(
                    f"node {node_small_id} presented a different key without an attested key rotation"
                )
            self._pins[node_small_id] = _Pin(public_key, rotation_counter)
            return True

    def pinned(self) -> dict[int, str]:
        """The keys pinned so far, by node."""
        with self._guard:
            return {node: pin.public_key for node, pin in self._pins.items()}
