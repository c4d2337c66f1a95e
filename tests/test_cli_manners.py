"""The command line's manners: quiet on a closed pipe, hints that say how to fix, user text echoed as typed."""

import os
import subprocess
import sys

import pytest

from derivaudit.cli import main


def _derivaudit(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "derivaudit", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.parametrize("args", [
    ["study", "theta**3", "--at", "theta=1", "--eps", "1e-1:1e-6:6"],
    ["check", "x**3", "--claim", "3*x"],
])
def test_closed_pipe_ends_quietly(args):
    # the reader is gone before anything is written (as `| head -1` once it has its line), so the
    # first write meets EPIPE whatever the buffering: exit 141 and nothing on stderr
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        process = subprocess.Popen([sys.executable, "-m", "derivaudit", *args], stdout=write_end,
                                   stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    stderr = process.stderr.read()
    process.wait(timeout=120)
    assert stderr == ""
    assert process.returncode == 141


@pytest.mark.parametrize("args, message", [
    (["study", "ln(x)", "--at", "x=1"],
     "derivaudit: error: unknown function 'ln' at column 1; write log(...): the natural logarithm is 'log'"),
    (["study", "2x", "--at", "x=1"],
     "derivaudit: error: syntax error: invalid decimal literal at column 1; write 2*x: a product needs *"),
    (["check", "x**2", "--claim", "2x"],
     "derivaudit: error: claim '2x': syntax error: invalid decimal literal at column 1; write 2*x: a product needs *"),
    (["study", "x**2", "--at", "x=1", "--eps", "-0.1"], "derivaudit: error: steps must be positive, not -0.1"),
    (["study", "x**2", "--at", "x=1", "--eps", "0.1,-1e-3"], "derivaudit: error: steps must be positive, not -1e-3"),
    (["study", "x", "--at", "x=1", "z=2"],
     "derivaudit: error: the point names z, which the formula does not use; drop it or check the spelling"),
    (["study"], "derivaudit: error: the following arguments are required: formula "
                "(see 'derivaudit study --help')"),
])
def test_errors_say_how_to_fix_in_one_format(args, message, capsys):
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == message


def test_sweep_file_errors_do_not_mention_command_line_flags(tmp_path, capsys):
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('[[study]]\nformula = "x*y"\nwrt = "x"\nat = { x = 1 }\n')
    assert main(["sweep", str(sweep), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("derivaudit: error: ") and "--at" not in err and "y=VALUE" in err


def test_values_starting_with_a_minus_are_values(capsys):
    assert main(["check", "-x**2", "--claim", "-2*x", "-q"]) == 0
    assert main(["study", "-x**3", "--at", "x=-1", "--eps", "0.1", "--digits", "5"]) == 0
    assert "-3.01" in capsys.readouterr().out
