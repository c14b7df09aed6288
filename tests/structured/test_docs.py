"""docs/structured-outputs.md: its examples run, in order, against a local node."""

from __future__ import annotations

import re
import sys
import types
import warnings
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "structured-outputs.md"


def test_the_structured_outputs_doc_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 6
    module = types.ModuleType("structured_outputs_doc")  # pydantic resolves annotations through it
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for block in blocks:
                exec(compile(block, str(DOC), "exec"), namespace)
        finally:
            node = namespace.get("node")
            if node is not None:
                node.stop()
            sys.modules.pop(module.__name__, None)
