"""The package's layout rules, read from its own source with ``ast``.

- results (``derivaudit.results``, studies, checks, audits, gradcheck) never import reports
  (or the CLI), function-level imports included: reports register with ``derivaudit.results``;
- no import cycle between modules, function-level imports included;
- no module imports another module's underscored name;
- no function over 100 lines, no module over 600.

Each rule is parametrised by module, so a failure names the module at fault.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "derivaudit"
RESULT_PACKAGES = ("studies", "checks", "audits", "gradcheck")
MAX_FUNCTION_LINES = 100
MAX_MODULE_LINES = 600


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(module, names, line)`` for every import of a derivaudit module in ``path``."""
    tree = ast.parse(path.read_text())
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("derivaudit")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("derivaudit"):
                names = [a.name for a in node.names]
                submodules = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
                found += [(s, [], node.lineno) for s in submodules]
                found.append((module, [n for n in names if f"{module}.{n}" not in MODULES], node.lineno))
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        graph[name] = {m for m, _, _ in _imports(path) if m in MODULES and m != name}
    return graph


@pytest.mark.parametrize("name", [m for m in MODULES if m == "derivaudit.results" or
                                  (m.split(".")[1:2] and m.split(".")[1] in RESULT_PACKAGES)])
def test_results_never_import_reports_or_cli(name):
    # function-level imports included (ast.walk sees every import); the reports reach results
    # through the registry of derivaudit.results, filled when derivaudit.reports.registry loads
    bad = [(m, line) for m, _, line in _imports(MODULES[name])
           if m.startswith(("derivaudit.reports", "derivaudit.cli", "derivaudit.display"))]
    assert bad == [], f"{name} imports {bad}"


def test_the_registry_is_the_only_way_from_results_to_reports():
    """Only derivaudit.results names the reports (by module name, to load the registry)."""
    for name, path in MODULES.items():
        if name.startswith("derivaudit.reports") or name in ("derivaudit.results", "derivaudit.cli"):
            continue
        assert "derivaudit.reports" not in path.read_text(), name


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        result.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return result


def test_no_import_cycles():
    graph = _graph()
    # the package root only re-exports lazily (module __getattr__), so it is not part of any cycle
    graph = {m: {d for d in deps if d != "derivaudit"} for m, deps in graph.items()}
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_names_from_other_modules(name):
    bad = [(m, n, line) for m, names, line in _imports(MODULES[name]) for n in names
           if n.startswith("_") and not n.startswith("__") and m != name]
    assert bad == [], f"{name} imports private names {bad}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_short_functions_and_modules(name):
    path = MODULES[name]
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{name}: {len(text.splitlines())} lines"
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == [], f"{name}: functions over {MAX_FUNCTION_LINES} lines: {long}"
