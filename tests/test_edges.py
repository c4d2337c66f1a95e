"""Edges that crashed (exit 3) and must be a verdict or one clear line with exit 2 (issue 25 items 5, 7).

Driven through the CLI, so the answer holds whatever computes the audit's evidence.
"""

import pytest

from derivaudit.cli import main


def _spec(tmp_path, loss: str, claim: str, extra: str = "") -> str:
    path = tmp_path / "spec.toml"
    path.write_text(f'[shapes]\nW = [2, 2]\n[params]\nnames = ["W"]\n{extra}'
                    f'[forward]\nloss = "{loss}"\n[claims]\nW = "{claim}"\n', encoding="utf-8")
    return str(path)


def _answer(capsys, argv) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err
    if code == 2:  # one clear line
        assert len(err.strip().splitlines()) == 1 and err.startswith("derivaudit: error:")
    return code, out, err


@pytest.mark.parametrize("loss, claim, extra, expected", [
    # centered steps leave the domain of log: no evidence there, not a TypeError on a complex number
    ("np.sum(np.log(W - 0.9999))", "1/(W - 0.9999)", "", 0),
    ("np.sum(np.log(W - 0.9999))", "W", "", 1),
    ("np.sum(np.log(W))", "1/W", "[audit]\nrange = [0.001, 0.002]\n", 0),
    ("np.sum(np.log(W))", "2/W", "[audit]\nrange = [0.001, 0.002]\n", 1),
])
def test_an_audit_whose_steps_leave_the_domain_gets_a_verdict(tmp_path, capsys, loss, claim, extra, expected):
    code, out, _ = _answer(capsys, ["audit", _spec(tmp_path, loss, claim, extra)])
    assert code == expected
    assert ("1 of 1 claims correct" if expected == 0 else "0 of 1 claims correct") in out


@pytest.mark.parametrize("claim, expected", [("1e400 + 0*W", 0), ("1e399 + 0*W", 1)])
def test_a_constant_beyond_float64_in_an_audit(tmp_path, capsys, claim, expected):
    code, out, _ = _answer(capsys, ["audit", _spec(tmp_path, "np.sum(1e400 * W)", claim)])
    assert code == expected
    assert "float64" in out  # says the float64 check has no number


def test_a_constant_beyond_float64_in_a_float64_study(capsys):
    code, _, err = _answer(capsys, ["study", "1e400*x**2", "--at", "x=1", "--eps", "0.1", "--schemes",
                                    "centered", "--float64"])
    assert code == 2 and "float64" in err
    code, out, _ = _answer(capsys, ["study", "1e400*x**2", "--at", "x=1", "--eps", "0.1", "--schemes",
                                    "centered"])
    assert code == 0 and "2.0e+400" in out
