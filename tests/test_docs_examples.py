"""Every ``$ derivaudit ...`` example in README.md and docs/*.md prints what it shows.

A fenced block whose first line starts with ``$ derivaudit`` is a session:
each ``$ `` line is a command, the lines after it (up to the next ``$ ``)
are output it must print (stdout, then stderr), in that order, compared with runs of spaces
collapsed (column widths depend on rows a block may leave out).  A line
``...`` (or ``…``) elides any number of lines.  ``$ echo $?`` shows the exit
code of the previous command.  Commands run in a scratch folder holding a
copy of ``examples/``, so examples that write reports never touch the
repository.
"""

from __future__ import annotations

import importlib.util
import linecache
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ELISION = {"...", "…"}


def sessions(path: Path) -> list[tuple[int, list[str]]]:
    """``(line number, lines)`` of every fenced block of ``path`` that starts with ``$ derivaudit``."""
    found, block, start = [], None, 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            if block is None:
                block, start = [], number + 1
            else:
                if block and block[0].startswith("$ derivaudit"):
                    found.append((start, block))
                block = None
        elif block is not None:
            block.append(line)
    return found


def steps(block: list[str]) -> list[tuple[str, list[str]]]:
    """The block as ``(command, shown output lines)`` pairs."""
    result = []
    for line in block:
        if line.startswith("$ "):
            result.append((line[2:], []))
        else:
            result[-1][1].append(line)
    return result


CASES = [pytest.param(path, start, block, id=f"{path.relative_to(ROOT)}:{start}")
         for path in DOCUMENTS for start, block in sessions(path)]


def _normal(line: str) -> str:
    return " ".join(line.split())


#: a number shown as ``≈v`` is one that depends on the platform's float64 roundoff (numpy's
#: vectorised ``exp`` differs between CPUs): any printed number within this factor of ``v`` matches
APPROXIMATE_FACTOR = 10


def _matches(shown: str, printed: str) -> bool:
    """``printed`` is the ``shown`` line (spacing aside); ``≈v`` cells match within APPROXIMATE_FACTOR."""
    if "≈" not in shown:
        return _normal(shown) == printed
    want, got = shown.split(), printed.split()
    if len(want) != len(got):
        return False
    for w, g in zip(want, got):
        if w == g:
            continue
        try:  # only ≈ followed by a number is approximate ("claim − exact ≈ -0.1·I" is text)
            v, x = float(w[1:]) if w.startswith("≈") else None, float(g)
        except (ValueError, TypeError):
            return False
        if v is None or not (v / APPROXIMATE_FACTOR <= x <= v * APPROXIMATE_FACTOR):
            return False
    return True


def missing_lines(shown: list[str], output: str) -> list[str]:
    """Lines of ``shown`` not found in ``output`` in order (``...`` skips any number of lines)."""
    printed = [_normal(line) for line in output.splitlines()]
    position, missing = 0, []
    anywhere = True  # a block may start part-way through the output
    for line in shown:
        if line.strip() in ELISION:
            anywhere = True
            continue
        if anywhere:
            found = next((i for i in range(position, len(printed)) if _matches(line, printed[i])), None)
        else:
            found = position if position < len(printed) and _matches(line, printed[position]) else None
        if found is None:
            missing.append(line)
            continue
        position, anywhere = found + 1, False
    return missing


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs")
    shutil.copytree(ROOT / "examples", folder / "examples")
    return folder


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    assert argv[0] == "derivaudit", f"an example command must start with derivaudit: {command}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "derivaudit", *argv[1:]], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=240)


@pytest.fixture(scope="module")
def outputs(scratch):
    """Every distinct command of every document, run once, two at a time."""
    commands = sorted({c for _, _, block in (case.values for case in CASES)
                       for c, _ in steps(block) if not c.startswith("echo ")})
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(commands, pool.map(lambda c: _run(c, scratch), commands)))


@pytest.mark.parametrize("path, start, block", CASES)
def test_example_prints_what_it_shows(path, start, block, outputs):
    previous = None
    session = steps(block)
    for i, (command, shown) in enumerate(session):
        if command.strip() == "echo $?":
            assert previous is not None, "echo $? needs a command before it"
            assert [str(previous.returncode)] == [s for s in shown if s.strip()], command
            continue
        run = previous = outputs[command]
        shows_status = i + 1 < len(session) and session[i + 1][0].strip() == "echo $?"
        # an example may show an error only when it also shows the exit status
        assert shows_status or run.returncode in (0, 1, 4), f"{command}\n{run.stderr}"
        missing = missing_lines(shown, run.stdout + run.stderr)
        assert missing == [], (f"{path.name}:{start}: {command}\nnot printed:\n" + "\n".join(missing)
                               + "\n--- printed:\n" + run.stdout)


def test_every_document_with_commands_has_sessions():
    assert len(CASES) >= 8


def test_missing_lines_honours_order_and_elision():
    output = "a  b\nc\nd\ne\n"
    assert missing_lines(["a b", "c"], output) == []
    assert missing_lines(["a b", "d"], output) == ["d"]
    assert missing_lines(["a b", "...", "e"], output) == []
    assert missing_lines(["...", "d", "c"], output) == ["c"]


def test_approximate_cells_match_within_their_factor():
    output = "forward 1e-08 3.26e-14 x\n"
    assert missing_lines(["forward 1e-08 ≈8.51e-14 x"], output) == []
    assert missing_lines(["forward 1e-07 ≈8.51e-14 x"], output) == ["forward 1e-07 ≈8.51e-14 x"]
    assert missing_lines(["forward 1e-08 ≈8.51e-12 x"], output) == ["forward 1e-08 ≈8.51e-12 x"]
    assert missing_lines(["claim − exact ≈ -0.1·I here"], "claim − exact ≈ -0.1·I here\n") == []
    assert missing_lines(["claim − exact ≈ -0.1·I here"], "claim − exact ≈ -0.2·I here\n") != []


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """``(line number, code)`` of every fenced ``python`` block of ``path``."""
    found, code, start = [], None, 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if code is None and line.strip() == "```python":
            code, start = [], number + 1
        elif code is not None and line.startswith("```"):
            found.append((start, "\n".join(code) + "\n"))
            code = None
        elif code is not None:
            code.append(line)
    return found


PYTHON_CASES = [pytest.param(path, id=str(path.relative_to(ROOT))) for path in DOCUMENTS if python_blocks(path)]


@pytest.mark.parametrize("path", PYTHON_CASES)
def test_python_examples_run(path, scratch, monkeypatch):
    """A page's Python examples run as shown, in order, as one session (names carry over).

    ``>>>`` blocks run as doctests, whose outputs must match.
    """
    import doctest

    import numpy

    import derivaudit

    monkeypatch.chdir(scratch)
    # pages write ``da`` and ``np`` as their readers do, often without repeating the imports
    namespace = {"__name__": "docs_example", "da": derivaudit, "np": numpy}
    for start, code in python_blocks(path):
        where = f"{path.name}:{start}"
        if code.lstrip().startswith(">>>"):
            test = doctest.DocTestParser().get_doctest(code, namespace, where, str(path), start)
            runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
            runner.run(test, clear_globs=False)
            assert runner.failures == 0, f"{where}: doctest failed"
        elif code.startswith("# needs torch") and importlib.util.find_spec("torch") is None:
            continue
        else:
            # registered as a file's lines: gradient checks quote the caller's source line
            linecache.cache[where] = (len(code), None, code.splitlines(keepends=True), where)
            exec(compile(code, where, "exec"), namespace)  # this repository's own documentation
