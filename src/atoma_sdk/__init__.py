"""atoma-sdk: Python SDK for Atoma's API, with verified confidential chat.

Imports are lazy: ``import atoma_sdk`` loads neither httpx, pydantic nor cryptography.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from . import errors, models, utils
    from ._runtime.aio import DefaultAioHttpClient, aiohttp_transport
    from .confidential.policy import VerificationPolicy
    from .sdk import AtomaSDK
    from .types import UNSET

_LAZY = {
    "AtomaSDK": ("atoma_sdk.sdk", "AtomaSDK"),
    "DefaultAioHttpClient": ("atoma_sdk._runtime.aio", "DefaultAioHttpClient"),
    "aiohttp_transport": ("atoma_sdk._runtime.aio", "aiohttp_transport"),
    "VerificationPolicy": ("atoma_sdk.confidential.policy", "VerificationPolicy"),
    "UNSET": ("atoma_sdk.types", "UNSET"),
    "errors": ("atoma_sdk.errors", None),
    "models": ("atoma_sdk.models", None),
    "utils": ("atoma_sdk.utils", None),
}

__all__ = [
    "UNSET",
    "AtomaSDK",
    "DefaultAioHttpClient",
    "VerificationPolicy",
    "__version__",
    "aiohttp_transport",
    "errors",
    "models",
    "utils",
]


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'atoma_sdk' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
