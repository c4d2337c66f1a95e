"""Docs that cannot drift from the code (beside ``test_docs_examples.py``, which runs them).

- every ``da.NAME`` and ``derivaudit.NAME`` (``derivaudit.sub.module``) that README.md and
  docs/*.md use exists;
- every flag documented for a command (``derivaudit CMD ... --flag``) is one its argparse
  parser accepts;
- docs/architecture.md names every module of the package.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import derivaudit
from derivaudit.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGE = ROOT / "derivaudit"
NAME = re.compile(r"\b(da|derivaudit)((?:\.[A-Za-z_][A-Za-z_0-9]*)+)")
COMMAND = re.compile(r"derivaudit ([a-z][a-z-]*)\b([^`\n]*)")


def _references() -> list[tuple[str, str]]:
    found = []
    for path in DOCUMENTS:
        for match in NAME.finditer(path.read_text(encoding="utf-8")):
            found.append((path.name, match.group(1) + match.group(2)))
    return sorted(set(found))


def _resolves(dotted: str) -> bool:
    """``derivaudit.a.b``: a public attribute chain, or a module of the package (and attributes of it)."""
    parts = dotted.split(".")[1:]
    value = derivaudit
    for i, part in enumerate(parts):
        try:
            value = getattr(value, part)
            continue
        except AttributeError:
            pass
        try:
            value = importlib.import_module(".".join(["derivaudit", *parts[: i + 1]]))
        except ImportError:
            return False
    return True


@pytest.mark.parametrize("document, name", _references())
def test_every_documented_name_exists(document, name):
    dotted = name.replace("da.", "derivaudit.", 1) if name.startswith("da.") else name
    if dotted.endswith((".md", ".py", ".toml")):  # a file name, not an attribute
        return
    assert _resolves(dotted), f"{document} names {name}, which derivaudit does not have"


def _options(parser) -> dict[str, set[str]]:
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name: {flag for action in command._actions for flag in action.option_strings}
            for name, command in sub.choices.items()}


def _documented_flags() -> list[tuple[str, str, str]]:
    found = set()
    for path in DOCUMENTS:
        for line in path.read_text(encoding="utf-8").splitlines():
            for match in COMMAND.finditer(line):
                command, rest = match.groups()
                for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest):
                    found.add((path.name, command, flag))
    return sorted(found)


OPTIONS = _options(build_parser())


@pytest.mark.parametrize("document, command, flag", _documented_flags())
def test_every_documented_flag_parses(document, command, flag):
    if command not in OPTIONS:      # prose such as "derivaudit is ..." or "derivaudit --version"
        assert command in {"is", "and", "or", "in", "to", "a", "the", "reads", "writes", "itself",
                           "command", "commands", "runs", "prints", "takes", "gives", "exits"}, \
            f"{document}: unknown command 'derivaudit {command}'"
        return
    assert flag in OPTIONS[command], f"{document}: derivaudit {command} has no option {flag}"


def test_the_flag_finder_finds_flags():
    flags = _documented_flags()
    assert ("README.md", "study", "--eps") in flags and any(c == "check" for _, c, _ in flags)


def _modules() -> list[tuple[str, str]]:
    """``(package or "", module name)`` of every module of derivaudit."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if path.name == "__init__.py" and len(relative.parts) > 1:
            continue
        package = relative.parts[0] if len(relative.parts) > 1 else ""
        found.append((package, path.stem))
    return found


def _architecture_rows() -> dict[str, str]:
    rows = {}
    for line in (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `(?:derivaudit/)?([a-z_]+)(/|\.py)` \|", line)
        if match:
            rows[match.group(1) + match.group(2)] = line
    return rows


@pytest.mark.parametrize("package, module", _modules())
def test_architecture_lists_every_module(package, module):
    rows = _architecture_rows()
    if not package:
        assert f"{module}.py" in rows, f"docs/architecture.md has no row for derivaudit/{module}.py"
        return
    row = rows.get(f"{package}/", "")
    assert f"`{module}`" in row, f"docs/architecture.md does not list {package}/{module}.py in the {package}/ row"
