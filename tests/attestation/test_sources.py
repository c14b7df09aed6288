"""Evidence and rotation-nonce sources against a loopback proxy service / Sui JSON-RPC server."""

from __future__ import annotations

import socket

import httpx
import pytest

from atoma_sdk.attestation import (
    CallableEvidenceSource,
    CallableRotationNonceSource,
    ProxyServiceEvidenceSource,
    RotationState,
    StaticRotationNonceSource,
    SuiRotationNonceSource,
)
from atoma_sdk.errors import AttestationError

from .servers import ATOMA_DB_ID, PACKAGE_ID, FakeNetwork

EVIDENCE = bytes(range(256)) * 3


def _reason(exc: pytest.ExceptionInfo[AttestationError]) -> str:
    return exc.value.reason


def test_proxy_service_fetch_never_sends_credentials(network: FakeNetwork, base_url: str) -> None:
    network.evidence[7] = EVIDENCE
    headers = {"Authorization": "Bearer secret-token", "Cookie": "session=1"}
    with httpx.Client(headers=headers, auth=("user", "pass")) as client:
        source = ProxyServiceEvidenceSource(base_url + "/", client)
        assert source.fetch(7) == EVIDENCE
    assert network.authorization_seen == []
    assert network.calls == ["get_node_attestation"]


@pytest.mark.anyio
async def test_proxy_service_fetch_async(network: FakeNetwork, base_url: str) -> None:
    network.evidence[7] = EVIDENCE
    async with httpx.AsyncClient(headers={"Authorization": "Bearer secret-token"}) as client:
        source = ProxyServiceEvidenceSource(base_url, async_client=client)
        assert await source.fetch_async(7) == EVIDENCE
    assert await ProxyServiceEvidenceSource(base_url).fetch_async(7) == EVIDENCE
    assert network.authorization_seen == []


@pytest.mark.parametrize(
    ("node", "reason"),
    [
        (404, "source-unavailable"),
        (500, "source-unavailable"),
        (501, "source-unavailable"),
        (502, "malformed-evidence"),
        (503, "malformed-evidence"),
    ],
)
def test_proxy_service_errors(base_url: str, node: int, reason: str) -> None:
    with pytest.raises(AttestationError) as info:
        ProxyServiceEvidenceSource(base_url).fetch(node)
    assert _reason(info) == reason


def test_proxy_service_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(AttestationError) as info:
        ProxyServiceEvidenceSource(f"http://127.0.0.1:{port}", timeout=5).fetch(1)
    assert _reason(info) == "source-unavailable"


def test_sui_current_rotation(network: FakeNetwork, base_url: str) -> None:
    source = SuiRotationNonceSource(base_url + "/rpc", ATOMA_DB_ID)
    assert source.rotations(0) == [RotationState(nonce=1000, counter=3)]
    assert network.calls == ["sui_getObject"]
    assert source.rotations(0) == [RotationState(nonce=1000, counter=3)]
    assert network.calls == ["sui_getObject"]  # reused within the TTL


@pytest.mark.anyio
async def test_sui_rotations_with_lag_from_events(network: FakeNetwork, base_url: str) -> None:
    network.rotate(2000)
    network.rotate(3000)
    source = SuiRotationNonceSource(base_url + "/rpc", ATOMA_DB_ID, package_id=PACKAGE_ID, cache_ttl=0)
    assert await source.rotations_async(1) == [RotationState(3000, 5), RotationState(2000, 4)]
    assert source.rotations(2) == [RotationState(3000, 5), RotationState(2000, 4), RotationState(1000, 3)]
    assert network.calls == ["sui_getObject", "suix_queryEvents"] * 2
    assert network.authorization_seen == []


def test_sui_lag_without_package_gives_current_only(network: FakeNetwork, base_url: str) -> None:
    network.rotate(2000)
    assert SuiRotationNonceSource(base_url + "/rpc", ATOMA_DB_ID).rotations(3) == [RotationState(2000, 4)]


def test_sui_errors(network: FakeNetwork, base_url: str) -> None:
    with pytest.raises(AttestationError) as info:
        SuiRotationNonceSource(base_url + "/rpc", "0x01").rotations(0)
    assert _reason(info) == "source-unavailable"
    network.rpc_error = True
    with pytest.raises(AttestationError) as info:
        SuiRotationNonceSource(base_url + "/rpc", ATOMA_DB_ID).rotations(0)
    assert _reason(info) == "source-unavailable"


def test_static_and_callable_rotation_sources() -> None:
    assert StaticRotationNonceSource(5, counter=2).rotations(0) == [RotationState(5, 2)]
    assert CallableRotationNonceSource(lambda: 9).rotations(0) == [RotationState(9)]
    states = [RotationState(9, 4), RotationState(8, 3)]
    assert CallableRotationNonceSource(lambda: states).rotations(1) == states
    for bad in (-1, 2**64, "\u00b2", True):
        with pytest.raises(AttestationError) as info:
            CallableRotationNonceSource(lambda bad=bad: bad).rotations(0)  # type: ignore[misc]
        assert _reason(info) == "source-unavailable"


@pytest.mark.anyio
async def test_callable_sources_async() -> None:
    async def evidence(node: int) -> bytes:
        return bytes([node])

    async def nonce() -> int:
        return 11

    assert await CallableEvidenceSource(evidence).fetch_async(4) == b"\x04"
    assert await CallableEvidenceSource(lambda node: b"x").fetch_async(4) == b"x"
    assert await CallableRotationNonceSource(nonce).rotations_async(0) == [RotationState(11)]
    with pytest.raises(AttestationError) as info:
        CallableEvidenceSource(evidence).fetch(4)
    assert _reason(info) == "source-unavailable"


def test_callable_failures_are_typed() -> None:
    def broken(node: int) -> bytes:
        raise KeyError("secret detail")

    with pytest.raises(AttestationError) as info:
        CallableEvidenceSource(broken).fetch(1)
    assert _reason(info) == "source-unavailable" and "secret detail" not in str(info.value)
    with pytest.raises(AttestationError) as info:
        CallableEvidenceSource(lambda node: "text").fetch(1)  # type: ignore[arg-type,return-value]
    assert _reason(info) == "malformed-evidence"
