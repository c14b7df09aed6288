"""Import blocks ordered the way ruff's isort rules (I001) expect."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

_STDLIB = frozenset(
    {"__future__", "collections", "collections.abc", "enum", "functools", "importlib", "typing"}
)
FUTURE, STDLIB, THIRD_PARTY, LOCAL = range(4)


def _member_key(name: str) -> tuple[int, str]:
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def _module_key(module: str) -> tuple[int, str]:
    dots = len(module) - len(module.lstrip("."))
    return (-dots, module.lstrip(".").lower())


def _section(module: str) -> int:
    if module == "__future__":
        return FUTURE
    if module.startswith("."):
        return LOCAL
    return STDLIB if module.split(".", 1)[0] in _STDLIB or module in _STDLIB else THIRD_PARTY


def block(froms: Mapping[str, Iterable[str]], plain: Iterable[str] = (), indent: str = "") -> str:
    """``import m`` / ``from m import a`` lines grouped future / stdlib / third-party / relative, sorted."""
    sections: list[list[tuple[int, tuple[int, str], str]]] = [[], [], [], []]
    for module in set(plain):
        sections[_section(module)].append((0, _module_key(module), f"{indent}import {module}"))
    for module, members in froms.items():
        names = sorted(set(members), key=_member_key)
        if not names:
            continue
        line = f"{indent}from {module} import {', '.join(names)}"
        if len(line) > 110:
            inner = "".join(f"{indent}    {n},\n" for n in names)
            line = f"{indent}from {module} import (\n{inner}{indent})"
        sections[_section(module)].append((1, _module_key(module), line))
    return "\n\n".join("\n".join(line for *_, line in sorted(lines)) for lines in sections if lines)
