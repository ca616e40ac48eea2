"""The package's layout holds: one wing per family, no import between wings, shared code that
names no family, no import cycle, one copy of the mode names, no hand-written schema."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import ROOT
from tridrop.registry import FAMILIES

SRC = ROOT / "src" / "tridrop"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """The tridrop modules a file imports (at module level only, if asked)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tridrop"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if module_file(sub) else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("tridrop")}
    return found


def module_file(name: str) -> Path | None:
    rel = Path(*name.split(".")[1:])
    for p in ((SRC / rel).with_suffix(".py"), SRC / rel / "__init__.py"):
        if p.exists():
            return p
    return None


SOURCES = sorted(SRC.rglob("*.py"))


def test_no_wing_imports_another():
    for family in FAMILIES.values():
        wing = SRC / "families" / family.name
        others = {f"tridrop.families.{f}" for f in FAMILIES if f != family.name}
        for path in wing.rglob("*.py"):
            bad = {m for m in imports(path) if any(m.startswith(o) for o in others)}
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_shared_code_imports_no_wing_and_names_no_family():
    """Below the wings nothing is family-specific: no wing import (the registry and the
    pipeline load the wings by name), no family's config section or CLI name written out."""
    names = {f.section for f in FAMILIES.values()} | {f.name for f in FAMILIES.values()}
    pattern = re.compile(r"[\"'](" + "|".join(sorted(names)) + r")[\"']")
    for path in SOURCES:
        if "families" in path.parts or path.name == "registry.py":
            continue
        assert not {m for m in imports(path) if m.startswith("tridrop.families.")}, path
        assert not pattern.search(path.read_text()), f"{path.relative_to(ROOT)} names a family"


def test_no_import_cycle():
    graph = {module_name(p): {m for m in imports(p, top_level_only=True)} for p in SOURCES}
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            assert state.get(n) != 1, f"import cycle: {' -> '.join([*stack, m, n])}"
            if n not in state:
                visit(n, [*stack, m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_one_copy_of_the_mode_names_and_no_schema():
    full = '"triangle", "random", "nested", "loguniform", "dropout", "none"'
    copies = [p for p in SOURCES if full in p.read_text()]
    assert [p.name for p in copies] == ["modes.py"]
    assert not list((ROOT / "workflow").rglob("*schema*"))
