"""Reaching a confidential resource loads neither pydantic's model machinery nor asyncio (import time)."""

from __future__ import annotations

import json
import subprocess
import sys

_CODE = (
    "import sys, json, atoma_sdk\n"
    "sdk = atoma_sdk.AtomaSDK(bearer_auth='k', server_url='http://127.0.0.1:9')\n"
    "sdk.confidential_chat\n"
    "print(json.dumps(sorted(sys.modules)))\n"
)


def test_touching_a_resource_builds_no_pydantic_model_and_imports_no_asyncio_nor_httpcore() -> None:
    out = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "atoma_sdk.confidential_chat" in loaded
    assert "pydantic.main" not in loaded
    assert "atoma_sdk.types.basemodel" not in loaded
    assert "asyncio" not in loaded
    # httpx loads its transport stack with the first transport; the SDK's deadline backends and pool wait too.
    assert "httpcore" not in loaded and "h11" not in loaded


def test_types_exports_base_model_lazily() -> None:
    from atoma_sdk import types
    from atoma_sdk.types.basemodel import BaseModel

    assert types.BaseModel is BaseModel
    assert types.UNSET is types.Unset()


_CLASSES = (
    "import sys, json, atoma_sdk\n"
    "sdk = atoma_sdk.AtomaSDK(bearer_auth='k', server_url='http://127.0.0.1:9')\n"
    "sdk.confidential_chat\n"
    "mods = [m for n, m in list(sys.modules.items()) if n.startswith('atoma_sdk')]\n"
    "made = sorted(f'{m.__name__}.{k}' for m in mods for k, v in vars(m).items()\n"
    "              if isinstance(v, type) and '__dataclass_fields__' in vars(v))\n"
    "print(json.dumps([made, 'atoma_sdk._runtime.aio' in sys.modules]))\n"
)


def test_the_import_path_builds_no_dataclass_and_skips_the_aiohttp_module() -> None:
    # ``@dataclass`` compiles each class's methods at import (~1 ms a class): the SDK's value classes are
    # ``_runtime.record`` classes instead, and the aiohttp glue loads only when an async client is given.
    out = subprocess.run([sys.executable, "-c", _CLASSES], capture_output=True, text=True, check=True)
    made, aio_loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert made == []
    assert aio_loaded is False
