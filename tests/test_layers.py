"""The package layers: which kllama package may import which, and no import cycle between packages.

Every ``import kllama.x`` / ``from kllama.x import ...`` in the package counts, also those inside functions.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

KLLAMA = Path(__file__).resolve().parents[1] / "kllama"

#: the packages (or top-level modules) each one may import, besides itself
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "native": set(),
    "_build_native": set(),
    "config": {"core"},
    "text": {"core", "native"},
    "formats": {"core", "native", "text"},
    "download": {"core", "formats", "config", "sources"},
    "models": {"core", "formats", "text", "native", "config", "download", "sources"},
    "sources": {"core", "formats", "text", "native", "config"},
    "filters": {"core", "formats", "text", "native", "config", "models"},
    "dedup": {"core", "formats", "text", "native", "config", "models", "sources"},
    "tokenize": {"core", "formats", "text", "native", "config", "engine"},
    "engine": {"core", "config"},
    "pipeline": {"core", "config", "engine"},
    "export": {"core", "config", "engine", "formats"},
    "report": {"core", "config", "engine", "tokenize"},
    "commands": {"*"},
    "cli": {"commands"},
    "__init__": set(),
    "data": {"*"},
    "recipes": set(),
}


def _package_of(path: Path) -> str:
    rel = path.relative_to(KLLAMA)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """The kllama packages that module ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "kllama"]
        for name in names:
            parts = name.split(".")
            if parts[0] == "kllama" and len(parts) > 1:
                found.add(parts[1])
    return found


def _graph() -> dict[str, dict[str, list[str]]]:
    """package -> imported package -> modules that import it."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(KLLAMA.rglob("*.py")):
        pkg = _package_of(path)
        for target in _imports(path):
            if target not in (pkg, "__version__", "_kllama_native"):
                graph[pkg][target].append(str(path.relative_to(KLLAMA.parent)))
    return graph


def test_every_package_has_a_rule():
    packages = {_package_of(p) for p in KLLAMA.rglob("*.py")}
    assert packages <= set(ALLOWED), f"no layer rule for {sorted(packages - set(ALLOWED))}"


def test_imports_follow_the_layers():
    wrong = []
    for pkg, targets in _graph().items():
        allowed = ALLOWED.get(pkg, set())
        if "*" in allowed:
            continue
        for target, where in targets.items():
            if target not in allowed:
                wrong.append(f"{pkg} -> {target} ({', '.join(where)})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_cycle_between_packages():
    graph = {pkg: set(t) for pkg, t in _graph().items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend(path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, path + [node]):
                return True
        state[node] = 2
        return False

    for pkg in sorted(graph):
        if state.get(pkg) is None and visit(pkg, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_the_core_layer_imports_nothing_else_of_kllama():
    for path in (KLLAMA / "core").rglob("*.py"):
        assert _imports(path) <= {"core"}, path
