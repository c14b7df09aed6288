"""Policies cannot be turned against the user: refused settings, and a warning when a default check is off."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from atoma_sdk import AtomaSDK, VerificationPolicy
from atoma_sdk.confidential.notices import Once
from atoma_sdk.confidential.policy import ConfidentialityWarning
from atoma_sdk.local import LocalNode
from atoma_sdk.local.config import CHAT_MODEL

MESSAGES = [{"role": "user", "content": "hello"}]
SIGNER = "0x" + "ab" * 32
PINNED = frozenset({SIGNER})


@pytest.mark.parametrize(
    ("settings", "error", "says"),
    [
        ({"pinned_signers": PINNED, "require_signature": False}, ValueError, "require_signature=True"),
        ({"pinned_signers": PINNED, "verify_signatures": False}, ValueError, "verify_signatures=True"),
        ({"pinned_signers": SIGNER}, TypeError, "set of Sui addresses"),
        ({"pinned_signers": frozenset({1})}, TypeError, "as strings"),
        ({"pinned_signers": frozenset({"0x1234"})}, ValueError, "64 hex digits"),
        ({"require_signature": "no"}, TypeError, "True or False"),
        ({"verify_signatures": 0}, TypeError, "True or False"),
        ({"check_chunk_count": "yes"}, TypeError, "check_chunk_count"),
        ({"nonce_reuse": "bogus"}, ValueError, "'warn', 'raise', 'ignore', 'buffer'"),
        ({"attestation": None}, ValueError, "'enforce', 'warn', 'off'"),
        ({"chunk_count": "maybe"}, ValueError, "'raise', 'warn', 'off'"),
        ({"completions_stream": True}, ValueError, "'buffer', 'native'"),
        ({"signature_schemes": "ed25519"}, TypeError, "scheme names"),
        ({"signature_schemes": frozenset({"rsa"})}, ValueError, "scheme"),
        ({"pad_to": 0}, ValueError, "pad_to"),
    ],
)
def test_refused_at_construction(settings: dict[str, Any], error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says.replace("(", r"\(").replace(")", r"\)")):
        VerificationPolicy(**settings)


def test_accepted_forms_are_normalised() -> None:
    upper = SIGNER.upper().replace("0X", "0x")
    policy = VerificationPolicy(pinned_signers=[upper], signature_schemes=["ed25519"])
    assert policy.pinned_signers == frozenset({SIGNER}) and policy.signature_schemes == frozenset({"ed25519"})
    assert VerificationPolicy(check_chunk_count=False).chunk_count == "off"
    assert VerificationPolicy(check_chunk_count=False).with_(chunk_count="raise").chunk_count == "raise"


@pytest.fixture(scope="module")
def node() -> Iterator[LocalNode]:
    with LocalNode() as running:
        yield running


def _sdk(node: LocalNode, policy: VerificationPolicy) -> AtomaSDK:
    return AtomaSDK(bearer_auth=node.api_key, server_url=node.url, verification=policy)


WEAK = VerificationPolicy(verify_signatures=False, require_response_hash=False, attestation="off")


def _weakened(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "less protected" in str(w.message)]


def test_a_weakened_policy_warns_once_per_sdk_instance(node: LocalNode) -> None:
    with _sdk(node, WEAK) as sdk, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
        sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    messages = _weakened(caught)
    assert len(messages) == 2  # two checks off, each named once for both calls
    assert any("verify_signatures=False" in m for m in messages)
    assert any("require_response_hash=False" in m for m in messages)
    assert all(w.category is ConfidentialityWarning for w in caught if "less protected" in str(w.message))
    with _sdk(node, WEAK) as other, warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        other.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    assert len(_weakened(again)) == 2  # a new SDK instance warns again


def test_silencing_settings_warn_nothing(node: LocalNode) -> None:
    quiet = VerificationPolicy(attestation="off", nonce_reuse="ignore")
    with _sdk(node, quiet) as sdk, warnings.catch_warnings():
        warnings.simplefilter("error")
        sdk.confidential_chat.create_stream(messages=MESSAGES, model=CHAT_MODEL).text()


def test_a_filtered_warning_never_suppresses_later_ones(node: LocalNode) -> None:
    with _sdk(node, WEAK.with_(require_response_hash=True)) as sdk:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfidentialityWarning)
            sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sdk.confidential_chat.create(messages=MESSAGES, model=CHAT_MODEL)
    assert len(_weakened(caught)) == 1


def test_once_counts_only_shown_warnings() -> None:
    once = Once()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message="first", category=ConfidentialityWarning)
        once.warn("k", "first try", python="py", cli="cli")
        once.warn("k", "second try", python="py", cli="cli")
        once.warn("k", "third try", python="py", cli="cli")
    assert [str(w.message) for w in caught] == ["second try (py)"]


def test_once_applies_filters_that_name_the_callers_module_or_line() -> None:
    once = Once()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=ConfidentialityWarning, module="elsewhere")
        warnings.filterwarnings("ignore", category=ConfidentialityWarning, lineno=1)
        once.warn("a", "not this module", python="py", cli="cli")  # neither filter matches this call
        warnings.filterwarnings("ignore", category=ConfidentialityWarning, module=__name__)
        once.warn("b", "this module", python="py", cli="cli")  # ignored: "b" keeps its turn
        warnings.resetwarnings()
        warnings.simplefilter("always")
        once.warn("b", "this module again", python="py", cli="cli")
    assert [str(w.message) for w in caught] == ["not this module (py)", "this module again (py)"]
    assert all(w.filename == __file__ for w in caught)
