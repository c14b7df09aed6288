"""The confidential seam: form selection, TypeErrors, and what each form hands on."""

from __future__ import annotations

from typing import Any

import pytest

from atoma_sdk import confidential_chat, confidential_embeddings
from atoma_sdk._runtime.forms import split
from atoma_sdk._runtime.operation import RequestOptions
from atoma_sdk.sdk import AtomaSDK
from atoma_sdk.types import UNSET

RAW = {
    "ciphertext": "c",
    "client_dh_public_key": "k",
    "model_name": "m",
    "node_dh_public_key": "n",
    "nonce": "o",
    "plaintext_body_hash": "h",
    "salt": "s",
    "stack_small_id": 1,
}
HI = [{"role": "user", "content": "hi"}]
FORMS = confidential_chat.CREATE_STREAM_FORMS


def test_raw_form_keeps_wire_names_and_forces_stream() -> None:
    call = split(FORMS, {**RAW, "num_compute_units": None, "timeout_ms": 5, "extra_body": {"x": 1}})
    assert not call.plaintext
    assert call.params == {**RAW, "num_compute_units": None, "stream": True}
    assert call.options == RequestOptions(UNSET, None, 5, None, {"x": 1})


def test_plaintext_form_carries_verification_and_options() -> None:
    policy = object()
    call = split(FORMS, {"messages": HI, "model": "m", "temperature": 0.1, "verification": policy})
    assert call.plaintext and call.verification is policy
    assert call.params == {"messages": HI, "model": "m", "temperature": 0.1, "stream": True}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({**RAW, "messages": HI}, "both the raw wire form"),
        ({}, "needs either the plaintext form"),
        ({"model": "m"}, "needs either the plaintext form"),
        (
            {"messages": HI, "model": "m", "topp": 1},
            "unexpected keyword argument(s) for the plaintext form: topp",
        ),
        ({**RAW, "verification": None}, "for the raw wire form: verification"),
        ({**RAW, "temprature": 1}, "for the raw wire form: temprature"),
        ({"messages": HI}, "missing required keyword argument(s): model"),
        ({"ciphertext": "c"}, "missing required keyword argument(s): client_dh_public_key"),
    ],
)
def test_keywords_that_fit_no_form_raise_type_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError) as info:
        split(FORMS, kwargs)
    assert message in str(info.value)


def test_type_errors_never_quote_values() -> None:
    with pytest.raises(TypeError) as info:
        split(
            FORMS,
            {**RAW, "ciphertext": "SECRET-CANARY", "messages": [{"role": "user", "content": "CANARY"}]},
        )
    assert "CANARY" not in str(info.value)


def test_generated_methods_raise_before_any_io() -> None:
    sdk = AtomaSDK(bearer_auth="t", server_url="http://127.0.0.1:9")
    with pytest.raises(TypeError, match="both"):
        sdk.confidential_chat.create(**RAW, messages=HI)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="needs either"):
        sdk.confidential_embeddings.create()  # type: ignore[call-overload]
    sdk.close()


@pytest.mark.anyio
async def test_async_methods_raise_the_same(anyio_backend: str) -> None:
    sdk = AtomaSDK(bearer_auth="t", server_url="http://127.0.0.1:9")
    with pytest.raises(TypeError, match="both"):
        await sdk.confidential_chat.create_stream_async(**RAW, messages=HI)  # type: ignore[call-overload]
    await sdk.aclose()


def test_embeddings_plaintext_marker_is_input() -> None:
    call = split(confidential_embeddings.CREATE_FORMS, {"input": "x", "model": "m"})
    assert call.plaintext and call.params == {"input": "x", "model": "m"}


def test_touching_a_resource_builds_no_model() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from atoma_sdk import AtomaSDK\n"
        "sdk = AtomaSDK(bearer_auth='t')\n"
        "sdk.chat, sdk.confidential_chat, sdk.models_\n"
        "assert not [m for m in sys.modules if m.startswith('atoma_sdk.models.')], 'model modules imported'\n"
        "layer = [m for m in sys.modules if m.split('.')[:2] == ['atoma_sdk', 'confidential']]\n"
        "assert not layer, 'the confidential layer was imported'\n"
        "assert sdk.chat is sdk.chat\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
