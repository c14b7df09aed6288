"""Every Python example in README.md, USAGE.md and docs/ runs unedited against a local node, given only
``ATOMASDK_SERVER_URL`` and ``ATOMASDK_BEARER_AUTH`` (what a reader sets to try them). The local node is the
``node`` fixture of this directory's conftest."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import warnings
from pathlib import Path

import pytest

from atoma_sdk import errors
from atoma_sdk.confidential import attest
from atoma_sdk.confidential.policy import ConfidentialityWarning
from atoma_sdk.local import LocalNode

REPO = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
_IMPORT = re.compile(r"^(?:from|import) ([A-Za-z_][\w]*)", re.M)

#: Generated examples no local node can run. Strict: an example that starts to pass must leave this list.
PLACEHOLDERS = {
    # Registering a node takes the node operator's Sui key: the local node's /v1/nodes accepts only
    # registrations signed by its own key (node operators' route, not an API client's).
    "docs/sdks/nodes/README.md:1",
}


#: Pages whose examples build on each other; each has its own test that runs them in order.
RUN_IN_ORDER_ELSEWHERE = {"docs/structured-outputs.md": "tests/structured/test_docs.py"}


def _examples() -> list[tuple[str, str]]:
    files = [REPO / "README.md", REPO / "USAGE.md", *sorted((REPO / "docs").rglob("*.md"))]
    files = [path for path in files if path.relative_to(REPO).as_posix() not in RUN_IN_ORDER_ELSEWHERE]
    found = []
    for path in files:
        for index, code in enumerate(_BLOCK.findall(path.read_text()), start=1):
            found.append((f"{path.relative_to(REPO).as_posix()}:{index}", code))
    return found


EXAMPLES = _examples()


def _params() -> list[object]:
    params: list[object] = []
    for name, code in EXAMPLES:
        marks = []
        if name in PLACEHOLDERS:
            marks.append(pytest.mark.xfail(raises=errors.AtomaError, strict=True, reason="placeholders"))
        params.append(pytest.param(code, id=name, marks=marks))
    return params


def test_examples_are_found() -> None:
    names = {name.split(":")[0] for name, _ in EXAMPLES}
    assert {"README.md", "USAGE.md", "docs/openai.md", "docs/sdks/chat/README.md"} <= names
    assert len(EXAMPLES) >= 40
    assert {name for name, _ in EXAMPLES} >= PLACEHOLDERS


@pytest.mark.parametrize("code", _params())
def test_example_runs_against_a_local_node(
    code: str, node: LocalNode, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    for module in _IMPORT.findall(code):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"the example needs {module}, which is not installed")
    monkeypatch.setenv("ATOMASDK_SERVER_URL", node.url)
    monkeypatch.setenv("ATOMASDK_BEARER_AUTH", node.api_key)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    attest._PROCESS.reset()
    printed = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(printed):
        warnings.simplefilter("ignore", ResourceWarning)
        warnings.simplefilter("ignore", ConfidentialityWarning)  # expected: the local node reuses nonces
        exec(compile(code, request.node.callspec.id, "exec"), {"__name__": "__main__"})
    attest._PROCESS.reset()
