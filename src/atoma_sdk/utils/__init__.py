"""Public helpers with Speakeasy-compatible names (``atoma_sdk.utils.RetryConfig`` and friends)."""

from .retries import BackoffStrategy, RetryConfig

__all__ = ["BackoffStrategy", "RetryConfig"]
