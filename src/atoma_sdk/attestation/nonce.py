"""The requester nonce an Atoma node puts in each GPU report (protocol §6.1)."""

from __future__ import annotations

from typing import Final

from atoma_sdk.attestation._reasons import NONCE_MISMATCH, fail

NVIDIA_GPU_DEVICE_SLOT: Final = 300
PUBLIC_KEY_LENGTH: Final = 32
_U64_MAX: Final = 2**64 - 1

_INSTALL_HINT: Final = "attestation needs the 'blake3' package: pip install atoma-sdk[attestation]"


def check_inputs(public_key: bytes, key_rotation_nonce: int) -> None:
    """Reject a public key that is not 32 bytes or a rotation nonce outside u64."""
    if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_LENGTH:
        fail(NONCE_MISMATCH, "the node public key must be 32 raw bytes")
    if isinstance(key_rotation_nonce, bool) or not isinstance(key_rotation_nonce, int):
        fail(NONCE_MISMATCH, "the key rotation nonce must be an integer")
    if not 0 <= key_rotation_nonce <= _U64_MAX:
        fail(NONCE_MISMATCH, "the key rotation nonce must fit in an unsigned 64-bit integer")


def atoma_report_nonce(
    public_key: bytes, key_rotation_nonce: int, *, device_slot: int = NVIDIA_GPU_DEVICE_SLOT
) -> bytes:
    """BLAKE3(key_rotation_nonce u64 LE || public_key (32) || device_slot u16 LE)."""
    check_inputs(public_key, key_rotation_nonce)
    try:
        import blake3
    except ImportError as exc:  # pragma: no cover - exercised only without the extra installed
        raise ImportError(_INSTALL_HINT) from exc
    material = key_rotation_nonce.to_bytes(8, "little") + public_key + device_slot.to_bytes(2, "little")
    return bytes(blake3.blake3(material).digest())
