"""Compare the generated tree with the working tree, write it, and keep ``.speakeasy/gen.lock``."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import GENERATOR_VERSION, HEADER, emit_docs, emit_models, emit_resources
from .spec import Api, load

LOCK_HEADER = "# Written by scripts/generate. DO NOT EDIT.\n"
#: Roots generated files may live under (anything else is refused: hand-written code is never touched).
_ALLOWED = re.compile(
    r"^(src/atoma_sdk/models/[a-z0-9_]+\.py|src/atoma_sdk/[a-z0-9_]+\.py|docs/sdks/[a-z0-9_]+/README\.md"
    r"|docs/models/[a-z0-9_]+\.md)$"
)
_GENERATED_MARKS = (HEADER, emit_docs.MD_HEADER)


class OutputError(Exception):
    """Generation would overwrite a hand-written file, or a sectioned file lost its markers."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated:start {name} -->", f"<!-- generated:end {name} -->"


def replace_section(text: str, name: str, content: str) -> str:
    """``text`` with the body between ``name``'s markers replaced (markers appended when missing)."""
    start, end = _markers(name)
    block = f"{start}\n{content}\n{end}"
    if start not in text:
        return (text.rstrip("\n") + "\n\n" if text.strip() else "") + block + "\n"
    head, _, rest = text.partition(start)
    if end not in rest:
        raise OutputError(f"section {name!r} has a start marker but no end marker")
    _, _, tail = rest.partition(end)
    return head + block + tail


@dataclass
class Plan:
    """Everything one generation run produces, relative to the repository root."""

    files: dict[str, str]
    sections: dict[str, dict[str, str]]
    lock: str
    stale: list[str] = field(default_factory=list)


def _old_lock(root: Path, lock_path: str) -> dict[str, str]:
    path = root / lock_path
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(data.get("generatedFiles") or {})


def plan(root: Path) -> Plan:
    api: Api = load(root)
    files: dict[str, str] = {}
    for emitter in (emit_models.emit, emit_resources.emit, emit_docs.emit):
        files.update(emitter(api))
    for path in files:
        if not _ALLOWED.match(path):
            raise OutputError(f"refusing to generate {path}: outside the generated roots")
    sections = {
        path: {name: emit_docs.SECTIONS[name](api) for name in names}
        for path, names in sorted(api.config.get("docs", {}).get("sections", {}).items())
    }
    lock_path = api.config["generation"].get("lock", ".speakeasy/gen.lock")
    lock = {
        "lockVersion": "1.0.0",
        "generator": {"name": "atoma-sdk scripts/generate", "version": GENERATOR_VERSION},
        "sources": {
            "spec": {"path": api.config["generation"]["spec"], "sha256": api.spec_sha256},
            "overlays": {
                "paths": list(api.config["generation"].get("overlays", [])),
                "sha256": api.overlay_sha256,
            },
            "config": {"path": ".speakeasy/gen.yaml", "sha256": api.config_sha256},
        },
        "generatedFiles": {path: _sha(text) for path, text in sorted(files.items())},
        "generatedSections": {
            f"{path}#{name}": _sha(content)
            for path, names in sections.items()
            for name, content in names.items()
        },
    }
    lock_text = LOCK_HEADER + yaml.safe_dump(lock, sort_keys=True, default_flow_style=False, width=1000)
    stale = sorted(p for p in _old_lock(root, lock_path) if p not in files and (root / p).exists())
    result = Plan(files=files, sections=sections, lock=lock_text, stale=stale)
    result.files[lock_path] = lock_text
    return result


def _is_generated(path: Path) -> bool:
    with path.open(encoding="utf-8") as handle:
        return handle.readline().rstrip("\n") in _GENERATED_MARKS or path.name == "gen.lock"


def drift(root: Path, result: Plan) -> list[str]:
    """Paths whose content on disk differs from what the spec produces (or that should be deleted)."""
    changed = []
    for path, text in sorted(result.files.items()):
        target = root / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changed.append(path)
    for path, names in result.sections.items():
        target = root / path
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        updated = current
        for name, content in names.items():
            updated = replace_section(updated, name, content)
        if updated != current:
            changed.append(path)
    changed += [f"{p} (stale)" for p in result.stale]
    return changed


def write(root: Path, result: Plan) -> list[str]:
    """Write what differs; delete stale generated files; return the paths touched."""
    touched = []
    for path, text in sorted(result.files.items()):
        target = root / path
        if target.exists():
            if target.read_text(encoding="utf-8") == text:
                continue
            if not _is_generated(target):
                raise OutputError(f"refusing to overwrite hand-written file {path}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        touched.append(path)
    for path, names in result.sections.items():
        target = root / path
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        updated = current
        for name, content in names.items():
            updated = replace_section(updated, name, content)
        if updated != current:
            target.write_text(updated, encoding="utf-8")
            touched.append(path)
    for path in result.stale:
        target = root / path
        if _is_generated(target):
            target.unlink()
            touched.append(f"{path} (deleted)")
    return touched
