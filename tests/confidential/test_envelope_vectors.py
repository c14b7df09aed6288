"""protocol.md §9, byte for byte."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from atoma_sdk.confidential import envelope, sui
from atoma_sdk.errors import IntegrityError, KeyMismatchError, SignatureError

CLIENT_PRIV = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
NODE_PRIV = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
NODE_PUB_B64 = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
SALT = bytes(range(16))
REQ_NONCE = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaab")
REQUEST_PT = (
    b'{"messages":[{"content":"Hello","role":"user"}],'
    b'"model":"meta-llama/Llama-3.3-70B-Instruct","stream":false}'
)
REQUEST_CT = (
    "GhcwlVpat0OTPx8ARSJw3TGTe5dig2a8x/9FILpPAkBU5oS89up+a6d9zhfpAQpza1z11LzKECSJNYDkzvkLzQ8pPydowP5txzXsUe"
    "mtKxCki1VrVcXg6QHlLT7Bj7WGippKZ3LQQ1pzCl9oraH23c28VOaf/C/Z57gj"
)
RESPONSE_PT = (
    b'{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,'
    b'"model":"meta-llama/Llama-3.3-70B-Instruct","choices":[{"index":0,"message":'
    b'{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'
)
RESPONSE_BODY = (
    '{"nonce":"sLGys7S1tre4ubq7","ciphertext":"ZOOZlLHta3aac2+KKfPAupuKznkO7c6jit2wOnKSRX+NmUpcZ+Rig9yIcDYFYr6M8'
    "/7v1US6G7x9VL+KZEzb7nHYkmRfgqDjh2WvQ20RLt+K3myTX6k2omcuVVsyu61bxhu3th4eQPp5gYSUd1xMikcuj/j6egP8PVG3DBo7"
    "4CmcNMB35y9Avzvc5jd1s8DufsQiozr0xKngEmhPNBMDIcNgTUdSXc50mdrxfLLhy/b29DwM0iqIW1QH1LMWxsRXoFhJnEmhroLb1Nj86"
    "LFO4mYqQymEYURCyN9iGJROBRhoc+jW9lx2V1kLRezdYeFWD5UhA8UnceCsg0k64gMxgrS0EEbgq1V8PBpq8ahnMFgymv/tbfzIsGnk35K"
    'e9HnW","response_hash":"HCRp304miLdQ5d/65niuebs8bjSrFgFS5ZIELMzK3Ps=","signature":"AFP904BCAMFo1IU71Z7xkh'
    "hQiZ0IkOOuS4DjFyNet5B9Zawuuw0NOFidsmaAXAYw10EtUFuWgJaXN6VZ2EtvFgzqSmxj4pxSCr71UHsTLsX5lUd2rr6+e5JCHuppFEb"
    'SLA==","usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'
)
SIGNER_ADDRESS = "0xa0ccc8bcc83f6c628340134f8546a21e0618fd1aaa02432bba454c4a2c2233da"
CHUNK_NONCE_B64 = "wMHCw8TFxsfIycrL"
CHUNK0_CT = (
    "ELISHElD0FD0l3qECD/vA06aleP9CgPgwDyRmK0026BJwGAvFGBkgi6+/VKuKlMgPx3NP7Ifsz9+nNmz69pAOZVCUBxvM5Tt9GizaANwBu"
    "r29AV5HFS/Eh8OxWHoZkPAzn5txGKBgLpaRl+zHJPYEEtBcdZHu7FQJOMdfguNCoTUWuj/8IFcGFDCSFxjftTIyK4/YN/7a15K2ySEq7f"
    "eF40E/Exey9CKw70/Sym24wwHUC8rxQc+fd0JbHtJUePKoDRwCpOyJ/8kGRsS9OD/ljJrJLDwOAzC1IQ20sZ/CWRdUhHIzJHZ4oHd2z7Qy"
    "EDKQFWdbX8etjTfVBE="
)
CHUNK0_PT = (
    b'{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1700000001,'
    b'"model":"meta-llama/Llama-3.3-70B-Instruct","choices":[{"index":0,"delta":{"role":"assistant",'
    b'"content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null}'
)
CHUNK0_SIG = (
    "AK2sxrPCp9CQ8yuEciejmGM2s52B5sTB5GhjA13z6z0w+t1SD3Z3/Q81APjcFl7UF99wsSnotfMyBUWSW1Tq5Q3qSmxj4pxSCr71UHsTLs"
    "X5lUd2rr6+e5JCHuppFEbSLA=="
)


def _client() -> envelope.ClientSession:
    return envelope.ClientSession.create(
        NODE_PUB_B64, private_key=X25519PrivateKey.from_private_bytes(CLIENT_PRIV), salt=SALT
    )


def test_key_derivation_matches_vector() -> None:
    key = envelope.derive_key(
        X25519PrivateKey.from_private_bytes(CLIENT_PRIV), envelope.b64d(NODE_PUB_B64, what="k"), SALT
    )
    assert key.hex() == "193a1658e238ccf07108d772c923f3336a66f156195421b9b3f7cef441f13af7"


def test_request_encryption_matches_vector() -> None:
    fields = _client().encrypt_request(REQUEST_PT, nonce=REQ_NONCE)
    assert fields == {
        "ciphertext": REQUEST_CT,
        "client_dh_public_key": "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",
        "node_dh_public_key": NODE_PUB_B64,
        "nonce": "oKGio6Slpqeoqaqr",
        "plaintext_body_hash": "qz/E3CvwVJ5v43ctZHCenEKEug1i7GrcgvkgrBdXEWg=",
        "salt": "AAECAwQFBgcICQoLDA0ODw==",
    }


def test_node_decrypts_vector_request_and_reproduces_response() -> None:
    fields = _client().encrypt_request(REQUEST_PT, nonce=REQ_NONCE)
    node_key = X25519PrivateKey.from_private_bytes(NODE_PRIV)
    node, plaintext = envelope.NodeSession.from_request(node_key, fields)
    assert plaintext == REQUEST_PT
    ciphertext, nonce = node.encrypt(RESPONSE_PT, bytes.fromhex("b0b1b2b3b4b5b6b7b8b9babb"))
    expected = json.loads(RESPONSE_BODY)
    assert (ciphertext, nonce) == (expected["ciphertext"], expected["nonce"])
    signer = sui.SuiKeyPair.from_seed(bytes([7]) * 32)
    assert signer.sign_hash(envelope.body_hash(RESPONSE_PT)) == expected["signature"]
    assert envelope.b64e(envelope.body_hash(RESPONSE_PT)) == expected["response_hash"]


def test_client_decrypts_vector_response_and_verifies_signature() -> None:
    body = json.loads(RESPONSE_BODY)
    plaintext = _client().decrypt(body["ciphertext"], body["nonce"])
    assert plaintext == RESPONSE_PT
    signer = sui.verify(body["signature"], envelope.body_hash(plaintext))
    assert signer.address == SIGNER_ADDRESS
    assert signer.public_key.hex() == "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"


def test_stream_chunk_vector() -> None:
    plaintext = _client().decrypt(CHUNK0_CT, CHUNK_NONCE_B64)
    assert plaintext == CHUNK0_PT
    assert envelope.b64e(envelope.body_hash(plaintext)) == "A8CcXW6DQmHCPiFHoAW3OX9418foctJEfaTVgwLvXXc="
    assert sui.verify(CHUNK0_SIG, envelope.body_hash(plaintext)).address == SIGNER_ADDRESS


@pytest.mark.parametrize(
    ("text", "length"),
    [("not base64!", None), ("AAE", None), ("AAF=", None), ("AAECAw==", 3), ("AA-_", None), (None, None)],
)
def test_strict_base64(text: object, length: int | None) -> None:
    with pytest.raises(IntegrityError):
        envelope.b64d(text, length=length, what="field")


def test_tampered_ciphertext_is_an_integrity_error() -> None:
    body = json.loads(RESPONSE_BODY)
    raw = bytearray(envelope.b64d(body["ciphertext"], what="c"))
    raw[3] ^= 1
    with pytest.raises(IntegrityError):
        _client().decrypt(envelope.b64e(bytes(raw)), body["nonce"])


def test_node_rejections_have_kinds() -> None:
    node_priv = X25519PrivateKey.from_private_bytes(NODE_PRIV)
    fields = _client().encrypt_request(REQUEST_PT, nonce=REQ_NONCE)
    for mutate, kind in [
        ({"salt": "AAEC"}, "malformed"),
        ({"node_dh_public_key": envelope.b64e(bytes(32))}, "key-mismatch"),
        ({"nonce": envelope.b64e(bytes(12))}, "decrypt"),
        ({"plaintext_body_hash": envelope.b64e(bytes(32))}, "hash-mismatch"),
    ]:
        with pytest.raises(envelope.RequestRejected) as info:
            envelope.NodeSession.from_request(node_priv, {**fields, **mutate})
        assert info.value.kind == kind


def test_low_order_node_key_is_rejected() -> None:
    with pytest.raises(KeyMismatchError):
        envelope.ClientSession.create(envelope.b64e(bytes(32)))


@pytest.mark.parametrize("scheme", ["ed25519", "secp256k1", "secp256r1"])
def test_sui_schemes_round_trip_and_reject_other_messages(scheme: sui.Scheme) -> None:
    pair = sui.SuiKeyPair.generate(scheme)
    digest = envelope.body_hash(b"answer")
    signature = pair.sign_hash(digest)
    signer = sui.verify(signature, digest)
    assert (signer.scheme, signer.address) == (scheme, pair.address)
    with pytest.raises(SignatureError):
        sui.verify(signature, envelope.body_hash(b"other answer"))
    with pytest.raises(SignatureError):
        sui.verify(signature, digest, schemes=frozenset({"ed25519"} - {scheme}))


def test_malformed_signatures() -> None:
    digest = envelope.body_hash(b"x")
    for bad in [None, "", "!!", envelope.b64e(b"\x05" + bytes(96)), envelope.b64e(b"\x00" + bytes(10))]:
        with pytest.raises(SignatureError):
            sui.verify(bad, digest)
