"""The `derivaudit check` command: the issue's examples, exit codes 0/1/2, readable output."""

import pytest

from derivaudit.cli import main


@pytest.mark.parametrize("argv, code, fragment", [
    (["theta**3", "--wrt", "theta", "--claim", "3*theta**2"], 0, "CORRECT (proved symbolically"),
    (["theta**3", "--wrt", "theta", "--claim", "3*theta"], 1, "df/dtheta: WRONG"),
    (["log(1+exp(w*x+b))", "--wrt", "w", "--claim", "x*sigmoid(w*x+b)"], 0, "CORRECT (proved"),
    (["x**2*y", "--grad", "x,y", "--claim", "2*x*y, x**2"], 0, "gradient: all 2 components correct"),
    (["sin(x)", "--wrt", "x", "--order", "2", "--claim", "-sin(x)"], 0, "d^2f/dx^2: CORRECT"),
])
def test_issue_examples(argv, code, fragment, capsys):
    assert main(["check", *argv]) == code
    assert fragment in capsys.readouterr().out


def test_wrong_claim_report(capsys):
    assert main(["check", "theta**3", "--wrt", "theta", "--claim", "3*theta"]) == 1
    out = capsys.readouterr().out
    assert "exact:      3*theta**2" in out
    assert "difference: " in out and "(claim − exact)" in out
    assert "counterexample: theta=1/2: claim = 1.5, exact = 0.75" in out
    assert "not to the claim" in out
    rows = [line.split() for line in out.splitlines()]
    # centered difference at eps=0.01: 0.7501 (error 1e-4, order 2), 0.7499 away from the claim
    assert ["centered", "0.01", "0.7501", "0.75", "0.0001", "1.5", "0.7499", "2.0000"] in rows


def test_diagnosis_is_printed(capsys):
    assert main(["check", "log(1+exp(w*x+b))", "--wrt", "w", "--claim", "sigmoid(w*x+b)"]) == 1
    out = capsys.readouterr().out
    assert "likely mistake: chain rule without the inner derivative" in out
    assert "d(b + w*x)/dw = x is missing" in out


def test_gradient_with_one_wrong_component_exits_1(capsys):
    assert main(["check", "x**2*y", "--grad", "x,y", "--claim", "2*x*y, 2*x*y"]) == 1
    out = capsys.readouterr().out
    assert "df/dx: CORRECT" in out and "df/dy: WRONG" in out
    assert "gradient: 1 of 2 components wrong" in out


def test_kink_at_point(capsys):
    assert main(["check", "relu(x)", "--claim", "relu(x)/x", "--at", "x=0"]) == 0
    out = capsys.readouterr().out
    assert "NOT DIFFERENTIABLE AT THE POINT" in out
    assert "left derivative 0, right derivative 1" in out


def test_claim_starting_with_minus_and_quiet(capsys):
    assert main(["check", "-x**2", "--claim", "-2*x", "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_at_point_evidence(capsys):
    assert main(["check", "x**3", "--claim", "3*x", "--at", "x=1", "--dps", "30"]) == 1
    out = capsys.readouterr().out
    assert "at the point: claim = 3, exact = 3" in out
    assert "happens to equal" in out
    assert "evidence at x=1 (30 digits)" in out


@pytest.mark.parametrize("argv, fragment", [
    (["x**", "--claim", "1"], "formula 'x**': syntax error"),
    (["x**2", "--claim", "2*x**"], "claim '2*x**'"),
    (["x**2", "--claim", "2*sine(x)"], "did you mean 'sin'"),
    (["x**2", "--claim", "2*y"], "the claim uses y, which the formula does not"),
    (["x**2", "--claim", "2*x, 0"], "the claim has 2 components but one derivative was asked"),
    (["x**2*y", "--grad", "x,y", "--claim", "2*x*y"], "the gradient has 2"),
    (["x**2*y", "--grad", "x,z", "--claim", "2*x*y, 0"], "'z' is not a variable of the formula"),
    (["log(x)", "--claim", "1/x", "--at", "x=-1"], "outside the formula's domain"),
    (["x*y", "--claim", "y"], "say which one to differentiate by"),
    (["x*y", "--wrt", "x", "--grad", "x,y", "--claim", "y"], "not allowed with argument"),
    (["x**2"], "--claim"),
    (["x**2", "--claim", "2*x", "--order", "0"], "order must be"),
    (["x**2", "--claim", "2*x", "--dps", "2"], "precision"),
    (["x.__class__", "--claim", "1"], "attribute access"),
])
def test_bad_input_exits_2_with_one_line(argv, fragment, capsys):
    assert main(["check", *argv]) == 2
    captured = capsys.readouterr()
    assert fragment in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err and captured.out == ""


def test_debug_shows_the_traceback(capsys):
    assert main(["check", "x**2", "--claim", "2*y", "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err
