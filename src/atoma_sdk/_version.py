"""The one place the SDK's version is defined."""

__version__ = "0.2.0"
USER_AGENT = f"atoma-sdk-python/{__version__}"
