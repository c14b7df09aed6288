"""Hand-checked X.509 chains (leaf first) up to a trusted root, and the leaf's TCG DICE FWID.

Each link: the child's issuer name equals the parent's subject, the parent is a CA (basic constraints,
and ``keyCertSign`` when it has a key usage extension), and the parent's key verifies the child's
signature. The chain is anchored when its last certificate is a trusted root (same DER, or same subject
and public key), or is signed by one. Validity dates are checked only when ``now`` is given.
"""

from __future__ import annotations

import datetime
import functools
import itertools
from collections.abc import Sequence
from importlib import resources
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from atoma_sdk.attestation._reasons import BROKEN_CHAIN, MALFORMED_EVIDENCE, UNTRUSTED_ROOT, fail

DICE_TCB_INFO_OID: Final = x509.ObjectIdentifier("2.23.133.5.4.1")
FWID_LENGTH: Final = 48
MAX_CHAIN_LENGTH: Final = 8
_PEM_MARKER: Final = b"-----BEGIN CERTIFICATE-----"
_NVIDIA_ROOT_FILE: Final = "nvidia_device_identity_ca.pem"


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates from a PEM bundle or from concatenated DER, in order."""
    try:
        if data.lstrip().startswith(_PEM_MARKER):
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = _load_der_sequence(data)
    except ValueError:
        fail(MALFORMED_EVIDENCE, "certificate chain cannot be parsed")
    if not certs:
        fail(MALFORMED_EVIDENCE, "certificate chain is empty")
    if len(certs) > MAX_CHAIN_LENGTH:
        fail(MALFORMED_EVIDENCE, "certificate chain is too long")
    return certs


def _load_der_sequence(data: bytes) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    pos = 0
    while pos < len(data):
        if data[pos] != 0x30 or pos + 2 > len(data):
            raise ValueError("not a DER sequence")
        first = data[pos + 1]
        if first < 0x80:
            header, length = 2, first
        else:
            n = first & 0x7F
            if n == 0 or n > 4 or pos + 2 + n > len(data):
                raise ValueError("bad DER length")
            header, length = 2 + n, int.from_bytes(data[pos + 2 : pos + 2 + n], "big")
        end = pos + header + length
        if end > len(data):
            raise ValueError("truncated DER certificate")
        certs.append(x509.load_der_x509_certificate(data[pos:end]))
        pos = end
        if len(certs) > MAX_CHAIN_LENGTH:
            break
    return certs


@functools.lru_cache(maxsize=1)
def nvidia_root() -> x509.Certificate:
    """The embedded NVIDIA Device Identity CA root."""
    pem = resources.files("atoma_sdk.attestation").joinpath(_NVIDIA_ROOT_FILE).read_bytes()
    return x509.load_pem_x509_certificate(pem)


def load_trusted_roots(pems: Sequence[bytes] | None) -> tuple[x509.Certificate, ...]:
    """Trusted roots from PEM bytes (each may hold several certificates); None means the NVIDIA root."""
    if pems is None:
        return (nvidia_root(),)
    roots: list[x509.Certificate] = []
    for pem in pems:
        try:
            roots.extend(x509.load_pem_x509_certificates(pem))
        except ValueError:
            fail(UNTRUSTED_ROOT, "a trusted root is not a readable PEM certificate")
    if not roots:
        fail(UNTRUSTED_ROOT, "no trusted root certificate was given")
    return tuple(roots)


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        key = parent.public_key()
        algorithm = child.signature_hash_algorithm
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(algorithm, hashes.HashAlgorithm):
            return False
        key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(algorithm))
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


def _extensions(cert: x509.Certificate) -> x509.Extensions:
    try:
        return cert.extensions
    except ValueError:
        fail(MALFORMED_EVIDENCE, "a certificate has malformed extensions")


def _is_ca(cert: x509.Certificate) -> bool:
    extensions = _extensions(cert)
    try:
        if not extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        return False
    try:
        return extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        return True


def _check_dates(certs: Sequence[x509.Certificate], now: datetime.datetime) -> None:
    for cert in certs:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            fail(BROKEN_CHAIN, "a certificate is outside its validity period")


def _matches_root(cert: x509.Certificate, root: x509.Certificate) -> bool:
    return cert == root or (cert.subject == root.subject and _spki(cert) == _spki(root))


def verify_chain(
    certs: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    now: datetime.datetime | None = None,
) -> x509.Certificate:
    """Check every link of ``certs`` (leaf first) and its anchor; return the trusted root it ends at."""
    for child, parent in itertools.pairwise(certs):
        if child.issuer != parent.subject:
            fail(BROKEN_CHAIN, "a certificate's issuer is not the next certificate's subject")
        if not _is_ca(parent):
            fail(BROKEN_CHAIN, "an issuing certificate is not a CA")
        if not _signed_by(child, parent):
            fail(BROKEN_CHAIN, "a certificate's signature does not verify with its issuer's key")
    last = certs[-1]
    anchor = next((root for root in roots if _matches_root(last, root)), None)
    if anchor is None:
        anchor = next(
            (
                root
                for root in roots
                if last.issuer == root.subject and _is_ca(root) and _signed_by(last, root)
            ),
            None,
        )
    if anchor is None:
        fail(UNTRUSTED_ROOT, "the chain does not end at a trusted root")
    if now is not None:
        aware = now if now.tzinfo is not None else now.replace(tzinfo=datetime.timezone.utc)
        _check_dates([*certs, anchor], aware)
    return anchor


def leaf_fwid(cert: x509.Certificate) -> bytes | None:
    """The last 48 bytes of the TCG DICE TcbInfo extension (the FWID digest), or None without it."""
    try:
        extension = _extensions(cert).get_extension_for_oid(DICE_TCB_INFO_OID)
    except x509.ExtensionNotFound:
        return None
    value = extension.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    if len(raw) < FWID_LENGTH:
        fail(MALFORMED_EVIDENCE, "the leaf's DICE TcbInfo extension is too short")
    return raw[-FWID_LENGTH:]


def subject_text(cert: x509.Certificate) -> str:
    """The certificate's subject as an RFC 4514 string."""
    return cert.subject.rfc4514_string()
