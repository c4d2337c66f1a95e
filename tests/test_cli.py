import pandas as pd
import pytest

from derivaudit.cli import main


def test_seed_example_output(capsys):
    code = main(["study", "theta**3", "--wrt", "theta", "--at", "theta=1", "--eps", "0.01",
                 "--schemes", "forward,centered"])
    out = capsys.readouterr().out
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert ["forward", "0.01", "3.0301", "3", "0.0301"] in lines
    assert ["centered", "0.01", "3.0001", "3", "0.0001"] in lines


def test_sweep_writes_csv_with_every_digit(tmp_path, capsys):
    path = tmp_path / "sub" / "cubic.csv"
    code = main(["study", "theta**3", "--wrt", "theta", "--at", "theta=1", "--eps", "1e-1:1e-12:12",
                 "--dps", "50", "--csv", str(path)])
    assert code == 0
    table = pd.read_csv(path, dtype=str)
    assert len(table) == 24
    forward = table[table.scheme == "forward"]
    assert forward.approx.iloc[-1] == "3.000000000003000000000001"
    assert "fitted_order" in capsys.readouterr().out


@pytest.mark.parametrize("argv, fragment", [
    (["study", "sine(x)", "--at", "x=1"], "did you mean 'sin'"),
    (["study", "x", "--at", "x"], "NAME=VALUE"),
    (["study", "x**2", "--at", "x=1", "--eps", "1:2"], "START:STOP:COUNT"),
    (["study", "x.__class__", "--at", "x=1"], "attribute access"),
    (["study", "log(x)", "--at", "x=-1"], "not real"),
    (["study", "x", "--at", "x=1", "--order", "two"], "invalid int value"),
    (["study"], "required"),
    (["nonsense"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_unwritable_csv_is_exit_2(tmp_path, capsys):
    target = tmp_path / "folder.csv"
    target.mkdir()
    assert main(["study", "x**2", "--at", "x=1", "--csv", str(target)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_formula_may_start_with_a_minus(capsys):
    assert main(["study", "-x**2", "--at", "x=1", "--eps", "0.1", "--schemes", "forward"]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["forward", "0.1", "-2.1", "-2", "0.1"] in lines
