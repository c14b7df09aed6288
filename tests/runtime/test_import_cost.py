"""Reaching a confidential resource stays cheap: no pydantic model machinery, no asyncio, no dataclass."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

# Runs in a fresh interpreter: import, construct, touch a resource, then report what got loaded and which of
# the SDK's loaded classes are dataclasses (``@dataclass`` compiles each class's methods at import, ~1 ms).
_CODE = (
    "import sys, json, atoma_sdk\n"
    "sdk = atoma_sdk.AtomaSDK(bearer_auth='k', server_url='http://127.0.0.1:9')\n"
    "sdk.confidential_chat\n"
    "mods = [m for n, m in list(sys.modules.items()) if n.startswith('atoma_sdk')]\n"
    "made = sorted(f'{m.__name__}.{k}' for m in mods for k, v in vars(m).items()\n"
    "              if isinstance(v, type) and '__dataclass_fields__' in vars(v))\n"
    "print(json.dumps({'loaded': sorted(sys.modules), 'dataclasses': made}))\n"
)


def _fresh() -> Any:
    out = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_touching_a_resource_builds_no_pydantic_model_and_imports_no_asyncio_nor_httpcore() -> None:
    loaded = set(_fresh()["loaded"])
    assert "atoma_sdk.confidential_chat" in loaded
    assert "pydantic.main" not in loaded
    assert "atoma_sdk.types.basemodel" not in loaded
    assert "asyncio" not in loaded
    # httpx loads its transport stack with the first transport; the SDK's deadline backends and pool wait too.
    assert "httpcore" not in loaded and "h11" not in loaded
    # The aiohttp glue loads only when an async client is given.
    assert "atoma_sdk._runtime.aio" not in loaded


def test_the_import_path_builds_no_dataclass() -> None:
    # The SDK's value classes are ``_runtime.record`` classes.
    assert _fresh()["dataclasses"] == []


def test_types_exports_base_model_lazily() -> None:
    from atoma_sdk import types
    from atoma_sdk.types.basemodel import BaseModel

    assert types.BaseModel is BaseModel
    assert types.UNSET is types.Unset()
