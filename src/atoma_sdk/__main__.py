"""``python -m atoma_sdk ...``: the ``atoma`` command."""

from atoma_sdk.cli import entry_point

if __name__ == "__main__":
    entry_point()
