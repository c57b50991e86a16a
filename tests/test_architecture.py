"""The rooms of the code stay as docs/architecture.md draws them: one-way arrows between the
packages, no import cycle anywhere (type-only imports included), small modules in the shells."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "streams", "center", "ewe")
ALLOWED = {"engine": set(), "streams": {"engine"}, "center": {"engine"},
           "ewe": {"engine", "streams", "center"}}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    if target in known or node.module in known:
                        graph[name].add(target if target in known else node.module)
            elif isinstance(node, ast.Import):
                graph[name].update(alias.name for alias in node.names if alias.name in known)
    return graph


def test_packages_import_only_the_packages_below_them():
    wrong = {(name, target) for name, targets in imports().items() for target in targets
             if target.split(".")[0] != name.split(".")[0]
             and target.split(".")[0] not in ALLOWED[name.split(".")[0]]}
    assert wrong == set()


def test_no_module_imports_itself_through_others():
    graph = imports()
    cycles, done = [], set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycles.append(path[path.index(name):] + [name])
            return
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert cycles == []


def test_no_module_of_the_shells_is_over_400_lines():
    long = {str(path.relative_to(ROOT)): lines for package in ("streams", "center")
            for path in (ROOT / package).rglob("*.py")
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}
