"""The package sources a job uses, found by reading imports (no code is run).

A rule lists ``sources("tridrop.families.autoencoder.jobs:train")`` as inputs, so an edit
reruns only the jobs whose code changed: the job's module, the library modules the job
function reaches (through the module-level helpers it calls and the imports it uses), and
everything those modules import in turn. Library modules count whole; job modules count per
function; a package's ``__init__`` reached only as a parent counts as a file (its re-exports
are not used).
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path

PACKAGE = "tridrop"
ROOT = Path(__file__).resolve().parent


def sources(target: str) -> list[str]:
    """Files (relative to the package's parent folder) that ``module:function`` depends on."""
    module, _, function = target.partition(":")
    tree = _parse(module)
    seen = _module_names(module, tree, _reachable(tree, function)) if function else _imports(module)
    todo, done, parents = [module, *seen], set(), set()
    while todo:
        m = todo.pop()
        if m in done:
            continue
        done.add(m)
        if "." in m and _parent(m) not in done:
            parents.add(_parent(m))
            todo.append(_parent(m))
        # A package's __init__ reached only as a parent runs, but its re-exports are not used.
        if not (m == module and function) and (m not in parents or m in seen):
            todo += sorted(_imports(m))
    return sorted(_relative(_path(m)) for m in done)


def _relative(path: Path) -> str:
    """A source's path from the repository root (a plugin's: from the working directory)."""
    for base in (ROOT.parent.parent, Path.cwd().resolve()):
        if path.is_relative_to(base):
            return str(path.relative_to(base))
    return str(path)


def _path(module: str) -> Path:
    if module.split(".")[0] != PACKAGE:  # a family defined outside the package (a plugin)
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise ValueError(f"no module {module}")
        return Path(spec.origin).resolve()
    rel = Path(*module.split(".")[1:])
    package = ROOT / rel / "__init__.py"
    return package if package.exists() else (ROOT / rel).with_suffix(".py")


def _parent(module: str) -> str:
    return module.rsplit(".", 1)[0]


def _is_module(name: str) -> bool:
    return name == PACKAGE or (name.startswith(PACKAGE + ".") and _path(name).exists())


@cache
def _parse(module: str) -> ast.Module:
    path = _path(module)
    if not path.exists():
        raise ValueError(f"no module {module} ({path})")
    return ast.parse(path.read_text(), str(path))


def _targets(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """Names bound by an import statement, mapped to the package module they come from."""
    out = {}
    if isinstance(node, ast.Import):
        for a in node.names:
            if a.name.startswith(PACKAGE):
                out[(a.asname or a.name).split(".")[0]] = a.name
    elif node.module and node.module.startswith(PACKAGE) and node.level == 0:
        for a in node.names:
            sub = f"{node.module}.{a.name}"
            out[a.asname or a.name] = sub if _is_module(sub) else node.module
    return out


@cache
def _imports(module: str) -> frozenset[str]:
    """Every package module ``module`` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(_parse(module)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found |= set(_targets(node).values())
    return frozenset(found)


def _reachable(tree: ast.Module, function: str) -> list[ast.AST]:
    """The function's definition and the module-level definitions it uses, transitively."""
    defs = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defs[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(t, ast.Name):
                    defs[t.id] = node
    if function not in defs:
        raise ValueError(f"no function {function!r} in the module")
    todo, seen = [function], {}
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen[name] = defs[name]
        todo += [n.id for n in ast.walk(defs[name]) if isinstance(n, ast.Name)]
    return list(seen.values())


def _module_names(module: str, tree: ast.Module, nodes: list[ast.AST]) -> set[str]:
    """Package modules used by ``nodes``: their own imports and module-level imported names."""
    top = {}
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            top.update(_targets(node))
    used = set()
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Import | ast.ImportFrom):
                used |= set(_targets(n).values())
            elif isinstance(n, ast.Name) and n.id in top:
                used.add(top[n.id])
    return used
