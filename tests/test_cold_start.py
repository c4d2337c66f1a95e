"""``derivaudit --version`` and ``--help`` start without the heavy libraries.

Which modules a fresh interpreter loaded is a property of the code, so it
is tested here; how long that takes is measured in docs/performance.md.
"""

import json
import subprocess
import sys

import pytest

HEAVY = ("sympy", "pandas", "matplotlib", "numpy", "mpmath", "jinja2", "tqdm", "scipy")

PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["derivaudit", *{args!r}]
from derivaudit.cli import console_main
console_main()
"""


def _loaded(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    run = subprocess.run([sys.executable, "-c", PROBE.format(args=list(args))], capture_output=True,
                         text=True, timeout=60)
    line = next(line for line in run.stderr.splitlines() if line.startswith("MODULES "))
    return run, {name.split(".")[0] for name in json.loads(line[len("MODULES "):])}


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["study", "--help"], ["audit", "--help"]])
def test_version_and_help_import_no_heavy_library(args):
    run, loaded = _loaded(*args)
    assert run.returncode == 0, run.stderr
    assert "derivaudit" in run.stdout
    assert sorted(loaded & set(HEAVY)) == []


def test_import_derivaudit_is_lazy():
    run = subprocess.run([sys.executable, "-c", "import sys, derivaudit; print(sorted(m for m in sys.modules "
                          f"if m.split('.')[0] in {HEAVY!r}))"], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "[]", run.stderr
