"""The generator: deterministic output, drift detection, hand-written text untouched, overlay semantics."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from gen import HEADER, cli, output, overlay

from .conftest import REPO


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A throw-away copy of everything the generator reads and writes."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in (".speakeasy", "docs", "src/atoma_sdk"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=ignore)
    for name in ("README.md", "USAGE.md"):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_repository_is_up_to_date() -> None:
    assert output.drift(REPO, output.plan(REPO)) == []


def test_generation_is_deterministic(tree: Path) -> None:
    first = output.plan(tree)
    second = output.plan(tree)
    assert first.files == second.files and first.sections == second.sections and first.lock == second.lock
    assert output.write(tree, first) == []  # the copy already matches: nothing is rewritten


def test_check_reports_drift_and_regeneration_repairs_it(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chat = tree / "src/atoma_sdk/chat.py"
    chat.write_text(chat.read_text() + "\n# edited by hand\n")
    doc = tree / "docs/models/usage.md"
    doc.unlink()
    assert cli.main(["--check", "--root", str(tree)]) == 1
    err = capsys.readouterr().err
    assert "src/atoma_sdk/chat.py" in err and "docs/models/usage.md" in err
    assert cli.main(["--root", str(tree)]) == 0
    assert "# edited by hand" not in chat.read_text() and doc.exists()
    assert cli.main(["--check", "--root", str(tree)]) == 0


def test_hand_written_text_outside_markers_survives(tree: Path) -> None:
    readme = tree / "README.md"
    text = readme.read_text()
    start = "<!-- generated:start usage -->\n"
    assert start in text
    readme.write_text(
        "# My intro\n\nHand-written words.\n\n" + text.replace(start, start + "stale\n") + "\nOutro.\n"
    )
    assert "README.md" in output.drift(tree, output.plan(tree))
    output.write(tree, output.plan(tree))
    updated = readme.read_text()
    assert updated.startswith("# My intro\n\nHand-written words.\n") and updated.endswith("\nOutro.\n")
    assert "stale\n" not in updated
    assert output.drift(tree, output.plan(tree)) == []


def test_missing_sectioned_file_is_created_with_markers(tree: Path) -> None:
    (tree / "USAGE.md").unlink()
    output.write(tree, output.plan(tree))
    text = (tree / "USAGE.md").read_text()
    assert text.startswith("<!-- generated:start usage -->\n") and "<!-- generated:end usage -->" in text


def test_hand_written_file_is_never_overwritten(tree: Path) -> None:
    health = tree / "src/atoma_sdk/health.py"
    health.write_text('"""Someone wrote this by hand."""\n')
    with pytest.raises(output.OutputError, match="hand-written"):
        output.write(tree, output.plan(tree))
    assert health.read_text() == '"""Someone wrote this by hand."""\n'


def test_operations_that_disappear_lose_their_files(tree: Path) -> None:
    doc = yaml.safe_load((tree / ".speakeasy/openapi.yml").read_text())
    del doc["paths"]["/health"]
    (tree / ".speakeasy/openapi.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    hand = tree / "src/atoma_sdk/hand.py"
    hand.write_text("X = 1\n")
    result = output.plan(tree)
    assert "src/atoma_sdk/health.py (stale)" in output.drift(tree, result)
    output.write(tree, result)
    assert not (tree / "src/atoma_sdk/health.py").exists()
    assert not (tree / "docs/sdks/health/README.md").exists()
    assert hand.read_text() == "X = 1\n"
    assert "def health" not in (tree / "src/atoma_sdk/sdk.py").read_text()
    assert output.drift(tree, output.plan(tree)) == []


def test_spec_change_reaches_models_and_lock(tree: Path) -> None:
    spec_path = tree / ".speakeasy/openapi.yml"
    doc = yaml.safe_load(spec_path.read_text())
    doc["components"]["schemas"]["HealthResponse"]["properties"]["uptime_s"] = {
        "type": ["integer", "null"],
        "description": "Seconds since start",
    }
    spec_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    drifted = output.drift(tree, output.plan(tree))
    assert "src/atoma_sdk/models/health_response.py" in drifted and ".speakeasy/gen.lock" in drifted
    output.write(tree, output.plan(tree))
    model = (tree / "src/atoma_sdk/models/health_response.py").read_text()
    assert "uptime_s: OptionalNullable[int] = UNSET" in model
    assert '__nullable_fields__: ClassVar[frozenset[str]] = frozenset({"uptime_s"})' in model


def test_every_generated_python_file_says_so() -> None:
    lock = yaml.safe_load((REPO / ".speakeasy/gen.lock").read_text())
    paths = [p for p in lock["generatedFiles"] if p.endswith(".py")]
    assert "src/atoma_sdk/sdk.py" in paths and "src/atoma_sdk/models/__init__.py" in paths
    for path in paths:
        assert (REPO / path).read_text().splitlines()[0] == HEADER, path


def test_check_command_line() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts/generate"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


# -- overlay ---------------------------------------------------------------------------------------


def test_overlay_update_remove_and_append() -> None:
    doc = {"a": {"b": {"c": 1, "d": [1]}, "list": [1, 2, 3]}, "paths": {"/x#s": {"post": {}}}}
    overlay.apply(
        doc,
        {
            "overlay": "1.0.0",
            "actions": [
                {"target": "$.a.b", "update": {"c": 2, "d": [9], "e": {"f": 1}}},
                {"target": "$.a.list", "update": 4},
                {"target": "$.a.list[0]", "remove": True},
                {"target": "$.paths['/x#s'].post", "update": {"x-atoma-retry": "not-sent-only"}},
            ],
        },
    )
    assert doc == {
        "a": {"b": {"c": 2, "d": [9], "e": {"f": 1}}, "list": [2, 3, 4]},
        "paths": {"/x#s": {"post": {"x-atoma-retry": "not-sent-only"}}},
    }


def test_overlay_target_must_match() -> None:
    with pytest.raises(overlay.OverlayError, match="matches nothing"):
        overlay.apply({"a": {}}, {"overlay": "1.0.0", "actions": [{"target": "$.nope", "remove": True}]})


def test_overlay_corrections_are_applied(api: object) -> None:
    from gen.spec import Api

    assert isinstance(api, Api)
    usage = {f.wire: f for f in api.models["Usage"].fields}
    assert {w for w, f in usage.items() if f.required} == {"prompt_tokens", "total_tokens"}
    assert all(
        usage[w].nullable for w in ("completion_tokens", "completion_tokens_details", "prompt_tokens_details")
    )
    lock_fields = {f.wire for f in api.models["NodesCreateLockRequest"].fields}
    assert {"model", "max_num_tokens", "timeout"} <= lock_fields
    ops = {op.operation_id: op for r in api.resources for op in r.operations}
    confidential = [op for op in ops.values() if op.confidential]
    assert len(confidential) == 6 and all(op.retry_rule == "not-sent-only" for op in confidential)
    assert all(op.retry_rule == "default" for op in ops.values() if not op.confidential)
    images = ops["confidential_image_generations_create"].confidential
    assert images is not None and (images.flow, images.request, images.response) == (
        "images",
        "CreateImageRequest",
        "CreateImageResponse",
    )
