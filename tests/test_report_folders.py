"""A ``--csv DIR/`` report is written as a whole: the old folder or the new one, never a mix.

Ctrl-C, SIGTERM and a full disk are each interrupted after some files of the
new report were written; the folder must then hold exactly the old report,
and no hidden temporary file or folder may be left beside it.
"""

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import derivaudit as da
from derivaudit.errors import ReportError
from derivaudit.reports import files

ROOT = Path(__file__).resolve().parent.parent


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def two_results():
    old = da.check("x**2*y", grad=["x", "y"], claim=["2*x*y", "x**2"], at={"x": 1, "y": 2})
    new = da.check("x**3*y", grad=["x", "y"], claim=["3*x**2*y", "x**2"], at={"x": 1, "y": 2})
    return old, new


def _failing_after(count, failure):
    real = files.write_text_file
    calls = []

    def write(path, text):
        calls.append(path)
        if len(calls) > count:
            raise failure
        real(path, text)

    return write


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")],
                         ids=["ctrl-c", "full disk"])
def test_interrupted_folder_write_leaves_the_old_report(tmp_path, two_results, monkeypatch, failure):
    old, new = two_results
    folder = tmp_path / "report"
    da.write_csv(old, f"{folder}/")
    before = _snapshot(folder)
    assert len(before) >= 3
    monkeypatch.setattr(files, "write_text_file", _failing_after(2, failure))
    with pytest.raises(ReportError if isinstance(failure, OSError) else KeyboardInterrupt) as caught:
        da.write_csv(new, f"{folder}/")
    if isinstance(failure, OSError):
        assert "No space left on device" in str(caught.value)
    assert _snapshot(folder) == before
    assert _hidden(tmp_path) == []


def test_failed_first_write_creates_no_folder(tmp_path, two_results, monkeypatch):
    monkeypatch.setattr(files, "write_text_file", _failing_after(1, OSError(errno.ENOSPC, "No space left")))
    with pytest.raises(ReportError):
        da.write_csv(two_results[1], tmp_path / "fresh/")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_rewrite_replaces_the_report_and_keeps_other_files(tmp_path, two_results):
    old, new = two_results
    folder = tmp_path / "report"
    da.write_csv(old, f"{folder}/")
    (folder / "notes.txt").write_text("mine")
    da.write_csv(new, f"{folder}/")
    assert "x**3*y" in (folder / "summary.csv").read_text() or "3*x**2*y" in (folder / "summary.csv").read_text()
    assert (folder / "notes.txt").read_text() == "mine"
    assert _hidden(tmp_path) == []


SIGTERM_SCRIPT = """
import os, signal, sys
from derivaudit.reports import files
real = files.write_text_file
calls = []
def write(path, text):
    calls.append(path)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGTERM)
    real(path, text)
files.write_text_file = write
sys.argv = ["derivaudit", "check", "x**3*y", "--grad", "x,y", "--claim", "3*x**2*y, x**2", "--at", "x=1", "y=2",
            "--csv", sys.argv[1], "-q"]
from derivaudit.cli import console_main
console_main()
"""


def test_sigterm_leaves_the_old_report_and_no_temporary_file(tmp_path, two_results):
    folder = tmp_path / "report"
    da.write_csv(two_results[0], f"{folder}/")
    before = _snapshot(folder)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", SIGTERM_SCRIPT, f"{folder}/"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 128 + signal.SIGTERM, run.stderr
    assert run.stderr.strip() == "derivaudit: terminated"
    assert _snapshot(folder) == before
    assert _hidden(tmp_path) == []
