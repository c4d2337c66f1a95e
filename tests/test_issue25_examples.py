"""Issue 25's own examples, run through the command line as the issue writes them.

Most items have their regression tests beside the code they exercise
(tests/test_digits.py items 1–3, tests/test_edges.py items 5 and 7,
tests/test_soundness_regions.py items 4 and 6 from Python,
tests/test_gradcheck_inplace.py items 8–10, tests/test_spec_array_literal.py
item 11, tests/test_hostile.py item 12, tests/test_special_functions.py item
13).  These are the examples whose exact command or values no test ran.
"""

import mpmath
import pytest

import derivaudit as da
from derivaudit.cli import main


def _run(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err
    return code, out


def _rows(out: str, scheme: str) -> list[list[str]]:
    """The rows of the study's table (the summary table's rows have fewer columns)."""
    return [line.split() for line in out.splitlines() if line.split()[:1] == [scheme] and len(line.split()) >= 5]


# -- item 1: forward3 at an exact-zero derivative ----------------------------------------------

def test_item1_forward3_errors_at_an_exact_zero_are_the_approximations(capsys):
    code, out = _run(capsys, "study", "sin(x)", "--at", "x=0", "--order", "2", "--eps", "1e-4,1e-6,1e-8",
                     "--schemes", "forward3", "--dps", "15")
    # the quotients, by mpmath at 120 digits: 8.3333332138888893113…e-13, 8.3333333333213888…e-19,
    # 8.3333333333333321388…e-25, correctly rounded to 15 digits (the issue saw 0 for each error)
    expected = ["8.33333321388889e-13", "8.33333333332139e-19", "8.33333333333333e-25"]
    rows = _rows(out, "forward3")
    assert code == 0 and [(r[2], r[3], r[4]) for r in rows] == [(e, "0", e) for e in expected]


def test_item1_the_expected_forward3_values_are_the_quotients():
    """The hard-coded digits above, derived independently."""
    terms = da.stencil("forward3", 2).terms()
    with mpmath.workdps(120):
        values = []
        for k in (4, 6, 8):
            h = mpmath.mpf(10) ** -k
            values.append(sum(mpmath.mpf(w.p) / w.q * mpmath.sin(o * h) for o, w in terms) / h ** 2)
        assert [mpmath.nstr(v, 15) for v in values] == ["8.33333321388889e-13", "8.33333333332139e-19",
                                                       "8.33333333333333e-25"]


# -- items 4 and 6: a verdict, not exit 3 ------------------------------------------------------

def test_item4_a_difference_below_float_range_is_a_verdict(capsys):
    code, out = _run(capsys, "check", "exp(x)", "--wrt", "x", "--claim", "exp(x)*(1+exp(-10**6))")
    # claim − exact = exp(x − 10⁶) ≠ 0 everywhere, but its raw ball needs ~434,000 digits: undecided, and why
    assert code == 4 and "df/dx: UNDECIDED" in out
    assert "would need about 434325 digits (Limits.max_dps is 10000)" in out
    assert "difference: exp(x - 1000000)" in out


def test_item6_a_right_claim_in_another_variable_is_correct(capsys):
    code, out = _run(capsys, "check", "y*(log(x) - log(1 - x))", "--wrt", "y", "--claim", "log(x/(1 - x))")
    assert code == 0 and "df/dy: CORRECT (numerically): equal to 50 digits at" in out


# -- item 11: np.array([...]) in an audit, the hand-written conv1d weight gradient -------------

_CONV1D = """\
[shapes]
x = [4, 8]
w = [3]
[params]
names = ["w"]
[forward]
y = "w[0] * x[:, 0:6] + w[1] * x[:, 1:7] + w[2] * x[:, 2:8]"
loss = "np.sum(y**2) / 2"
[backward]
G = "y"
[claims]
w = "np.array([np.sum(G * x[:, 0:6]), np.sum(G * x[:, 1:7]), {last}])"
"""


@pytest.mark.parametrize("last, code, verdict", [
    ("np.sum(G * x[:, 2:8])", 0, "correct (proved)"),
    ("np.sum(G * x[:, 1:7])", 1, "wrong"),          # the last window shifted: entry w[2] wrong
])
def test_item11_a_conv1d_weight_gradient_written_with_np_array(tmp_path, capsys, last, code, verdict):
    spec = tmp_path / "conv1d.toml"
    spec.write_text(_CONV1D.format(last=last), encoding="utf-8")
    got, out = _run(capsys, "audit", str(spec))
    row = next(line for line in out.splitlines() if line.startswith("w "))
    assert got == code and verdict in row
    assert ("1 of 3: [2]" in row) == (code == 1)


# -- item 13: the piecewise-constant functions ------------------------------------------------

@pytest.mark.parametrize("formula", ["floor(x)", "ceil(x)"])
def test_item13_floor_and_ceil_have_derivative_zero_off_their_jumps(capsys, formula):
    code, out = _run(capsys, "check", f"x*{formula}", "--wrt", "x", "--claim", formula)
    assert code == 0 and "CORRECT" in out


@pytest.mark.parametrize("formula, at", [("floor(x)", "x=2"), ("ceil(x)", "x=-1")])
def test_item13_floor_and_ceil_are_not_differentiable_at_their_jumps(capsys, formula, at):
    code, out = _run(capsys, "check", formula, "--wrt", "x", "--claim", "0", "--at", at)
    assert "not differentiable" in out.lower(), out


@pytest.mark.parametrize("command", [
    ["study", "zeta(x + 2)", "--at", "x=0.3", "--eps", "1e-3"],
    ["check", "zeta(x)", "--wrt", "x", "--claim", "0"],
    ["check", "x*zeta(3, x)", "--wrt", "x", "--claim", "0"],
])
def test_item13_zeta_in_its_first_argument_is_one_clear_line(capsys, command):
    """zeta(s, a) is differentiated in a only, as PyTorch does (docs/check.md): a formula
    differentiated in s is refused in one line that says so, not with sympy's leftovers."""
    if command[1] == "x*zeta(3, x)":  # in a: the derivative exists, and the claim 0 is wrong
        code, out = _run(capsys, *command)
        assert code == 1 and "WRONG" in out
        return
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [
        "derivaudit: error: the derivative of zeta(s, a) in s has no closed form derivaudit can "
        "evaluate (it differentiates zeta in a only, as PyTorch does); keep the variables out of s"]


def test_item13_an_audit_through_zeta_in_s_says_why_in_one_line(tmp_path, capsys):
    """The reverse pass asks for the same derivative: the audit stops with that line, not with
    'the model is undefined at 20 of 20 points' (the derivative's balls could not be made)."""
    spec = tmp_path / "zeta.toml"
    spec.write_text('[shapes]\nW = [2]\n[params]\nnames = ["W"]\n[forward]\nloss = "sum(zeta(W + 2))"\n'
                    '[claims]\nW = "0*W"\n[audit]\npoints = 1\n', encoding="utf-8")
    assert main(["audit", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("derivaudit: error: the derivative of zeta(s, a) in s has no closed form")
    assert len(err.strip().splitlines()) == 1


def test_an_error_no_point_can_help_is_not_called_undefined(tmp_path, capsys, monkeypatch):
    """The search for points where the model is defined skips a point where it is not (a
    DomainError, a ZeroDivisionError, ...), but an error about the formula itself, such as an
    unsupported function, is the audit's one line, not '20 of 20 points undefined'."""
    from derivaudit.audits import points
    from derivaudit.core.balls import UnsupportedFunction

    def unsupported(*args):
        raise UnsupportedFunction("the ball engine has no certified evaluation of f (in f(W))")
    monkeypatch.setattr(points, "mp_values", unsupported)
    spec = tmp_path / "model.toml"
    spec.write_text('[shapes]\nW = [2]\n[params]\nnames = ["W"]\n[forward]\nloss = "sum(W**2)"\n'
                    '[claims]\nW = "2*W"\n[audit]\npoints = 1\n', encoding="utf-8")
    assert main(["audit", str(spec)]) == 2
    assert capsys.readouterr().err.strip() == (
        "derivaudit: error: the ball engine has no certified evaluation of f (in f(W))")


def test_an_audits_example_values_are_correctly_rounded_from_their_balls():
    """"at the first random point, entry b2[0,0]: claim …, exact …" prints each value as the
    correctly rounded 12-digit decimal of its ball, the precision raised until the ball
    decides it: a source whose ball at the working precision straddles a rounding tie is
    asked again at more bits, and the printed digits are the ball's rounding there."""
    import sympy as sp
    from flint import arb

    from derivaudit.audits.points import ExactPointFunction, Outputs, PointValues
    from derivaudit.core.balls import ball_precision, digits_to_bits

    tie = "1.234567890125"  # a tie of the 12th digit: 1.23456789012|5
    asked = []

    class Source(ExactPointFunction):
        def at_point(self, point, bits):
            asked.append(bits)
            # wide at first (it holds the tie), then just above it: rounds up, to ...013
            with ball_precision(bits):
                exact_tie = arb(1234567890125) / 10 ** 12
                return [exact_tie + arb(0, 1e-20) if len(asked) == 1 else exact_tie + arb(10) ** -40]

    outputs = Outputs()
    outputs.add("exact:w", [sp.Symbol("w")])
    values = PointValues(outputs, [[sp.Integer(1)]], [[mpmath.mpf(tie)]], 30, source=Source())
    assert values.printed(0, "exact:w", 0) == "1.23456789013"
    assert asked == [digits_to_bits(50), 2 * digits_to_bits(50)]
    # without balls, the stored value's own rounding (the former text)
    plain = PointValues(outputs, [[sp.Integer(1)]], [[mpmath.mpf(2) / 3]], 30)
    assert plain.printed(0, "exact:w", 0) == "0.666666666667"


def test_the_buggy_mlps_example_values_keep_their_digits(capsys):
    """The shipped buggy MLP's notes (docs/audit.md): its balls decide both roundings at the
    working precision, so the correctly rounded digits are the ones printed before."""
    import re
    from pathlib import Path
    spec = Path(__file__).resolve().parent.parent / "examples" / "mlp_2layer_buggy.toml"
    code, out = _run(capsys, "audit", str(spec))
    notes = re.findall(r"entry (\w+)\[(\d+),(\d+)\]: claim (\S+), exact (\S+)", out)
    assert code == 1 and len(notes) == 2
    assert notes[0][3:] == ("-2.06430956836", "-0.258038696045")
