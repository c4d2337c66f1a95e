"""Issue 13, the check side: a wrong claim never passes, a right claim never fails.

Every numbered example of the issue that concerns ``check`` is a test here
(items 1, 2, 3, 6, 7 and 12), run through the command line so the exit code
is the one a user sees.
"""

import time

import mpmath
import pytest
import sympy as sp

from derivaudit.checks.check import check
from derivaudit.checks.equivalence import compare_expressions
from derivaudit.cli import main
from derivaudit.lang.parse import parse_formula as P
from derivaudit.limits import Limits
from derivaudit.verdicts import ExitCode, Verdict


def _run(capsys, formula, *args):
    code = main(["check", formula, *args])
    return code, capsys.readouterr().out


# -- 1. kinks far from the origin ------------------------------------------------------------

@pytest.mark.parametrize("formula, claim, witness_side", [
    ("max(x, 100)", "0", "x > 100"),
    ("abs(x-50)", "-1", "x > 50"),
    ("relu(x - 1000)", "0", "x > 1000"),
])
def test_kinks_far_from_the_origin_are_found(capsys, formula, claim, witness_side):
    code, out = _run(capsys, formula, "--wrt", "x", "--claim", claim)
    assert code == ExitCode.WRONG
    assert "df/dx: WRONG" in out and "(certified: its ball excludes 0)" in out
    result = check(formula, wrt="x", claim=claim)
    x = result.counterexample["x"]
    assert sp.sympify(witness_side.replace("x", f"({x})")) == sp.true


def test_a_point_past_the_kink_never_prints_different_values_and_exits_0(capsys):
    code, out = _run(capsys, "max(x, 100)", "--wrt", "x", "--claim", "0", "--at", "x=200")
    assert code == ExitCode.WRONG
    assert "at the point: claim = 0, exact = 1" in out and "df/dx: WRONG" in out


# -- 2. values with no correct digit ---------------------------------------------------------

def test_values_with_no_correct_digit_are_resolved_before_they_count(capsys):
    code, out = _run(capsys, "sin(10**200*x)", "--wrt", "x", "--claim", "-10**200*cos(10**200*x)")
    assert code == ExitCode.WRONG
    assert "likely mistake: sign flipped" in out
    # the right claim in another form: the ball engine resolves 10^200·x and agrees
    code, out = _run(capsys, "sin(10**200*x)", "--wrt", "x", "--claim", "10**200*cos(x*10**200)")
    assert code == ExitCode.OK


def test_unresolvable_values_are_undecided_not_correct():
    # at most 60 digits: sin(10**200 * x) has no certified digit there, so no point can agree
    limits = Limits(max_dps=60, simplify_seconds=0)
    claim = P("10**200*cos(10**200*x) + 0*sin(x)**2 + sin(x)**2 - sin(x)**2")
    comparison = compare_expressions(P("10**200*cos(10**200*x)*(sin(x)**2 + cos(x)**2)"), claim,
                                     domain=[P("sin(10**200*x)")], dps=20, limits=limits)
    assert comparison.status == "undecided"
    assert "could not be resolved" in comparison.method and "would decide" in comparison.method


# -- 3. differences sympy already shows are non-zero ----------------------------------------

@pytest.mark.parametrize("formula, claim, difference", [
    ("x**2", "2*x + 1e-60*x", "x/10**60"),
    ("x**2", "2*x + exp(-1000000/x**2)", "exp(-1000000/x**2)"),
    ("x**2", "2*x + relu(x-1000000)", "relu(x - 1000000)"),
    ("exp(x)", "exp(x) + exp(x-2000)", "exp(x - 2000)"),
])
def test_differences_sympy_shows_non_zero_are_witnessed(capsys, formula, claim, difference):
    code, out = _run(capsys, formula, "--wrt", "x", "--claim", claim)
    assert code == ExitCode.WRONG and "df/dx: WRONG" in out
    result = check(formula, wrt="x", claim=claim)
    comparison = result.components[0].comparison
    point = {P("x"): comparison.counterexample["x"]}
    expected = P(difference).xreplace(point).evalf(30)
    assert comparison.difference_value != 0
    assert abs(comparison.difference_value / mpmath.mpf(str(expected)) - 1) < mpmath.mpf("1e-2")


def test_exp_minus_2000_is_seen_at_a_small_point_with_869_digits():
    comparison = check("exp(x)", wrt="x", claim="exp(x) + exp(x-2000)").components[0].comparison
    assert comparison.counterexample == {"x": sp.Rational(1, 2)}
    assert mpmath.mpf("4.2e-869") < comparison.difference_value < mpmath.mpf("4.3e-869")


# -- 6. right claims far from the origin -----------------------------------------------------

@pytest.mark.parametrize("formula, claim", [
    ("sqrt(x - 1000000)", "1/(2*sqrt(x - 1000000))"),
    ("log(x - 200000)", "1/(x - 200000)"),
    ("sqrt(x - 1000000)", "sqrt(x - 1000000)/(2*x - 2000000)"),
])
def test_domains_far_from_the_origin_are_found(capsys, formula, claim):
    code, out = _run(capsys, formula, "--wrt", "x", "--claim", claim)
    assert code == ExitCode.OK and "df/dx: CORRECT" in out


def test_far_domain_numerical_verdict_states_its_region():
    result = check("sqrt(x - 1000000)", wrt="x", claim="sqrt(x - 1000000)/(2*x - 2000000)",
                   limits=Limits(simplify_seconds=0))
    comparison = result.components[0].comparison
    assert result.verdict is Verdict.NUMERICAL
    assert comparison.method.startswith(f"equal to 50 digits at {comparison.points_tested} points (x in [1000001, ")


# -- 7. names of generated code --------------------------------------------------------------

def test_variables_named_like_generated_code_do_not_collide(capsys):
    code, out = _run(capsys, "mpf**2", "--wrt", "mpf", "--claim", "2*mpf + sin(1/2)**2 + cos(1/2)**2 - 1")
    assert code == ExitCode.OK and "df/dmpf: CORRECT" in out
    code, out = _run(capsys, "_derivaudit_power**3", "--wrt", "_derivaudit_power",
                     "--claim", "3*_derivaudit_power**2", "--at", "_derivaudit_power=2")
    assert code == ExitCode.OK and "at the point: claim = 12, exact = 12" in out
    code, out = _run(capsys, "abs(mpf - 1)", "--wrt", "mpf", "--claim", "1",
                     "--at", "mpf=1")
    assert "NOT DIFFERENTIABLE AT THE POINT" in out and "left derivative -1," in out


# -- 12. many components under one budget ----------------------------------------------------

def test_a_gradient_with_many_components_stays_within_the_check_budget():
    names = [f"x{i}" for i in range(40)]
    formula = " + ".join(f"{n}**2" for n in names)
    claim = ", ".join(f"2*{n}" for n in names)
    limits = Limits(check_seconds=1.5, simplify_seconds=1)
    start = time.monotonic()
    result = check(formula, grad=names, claim=claim, limits=limits)
    elapsed = time.monotonic() - start
    # every component is proved by sympy's automatic simplification before the budget matters
    assert result.verdict is Verdict.PROVED and elapsed < 30


def test_components_past_the_check_budget_are_undecided():
    names = [f"x{i}" for i in range(6)]
    formula = " + ".join(f"cosh({n})**2" for n in names)
    # right, but not proved by automatic simplification: the witness search has work to do
    claim = ", ".join(f"sinh(2*{n})" for n in names)
    result = check(formula, grad=names, claim=claim, limits=Limits(check_seconds=1e-3))
    assert result.verdict is Verdict.UNDECIDED and result.exit_code == ExitCode.UNDECIDED
    assert all(c.verdict is Verdict.UNDECIDED for c in result.components)
    assert "time budget ran out" in result.components[-1].comparison.method


def test_undecided_exits_4_and_says_why(capsys, monkeypatch):
    # the CLI runs check() with its default limits: give them a budget nothing can meet
    monkeypatch.setitem(check.__kwdefaults__, "limits", Limits(check_seconds=1e-3))
    code, out = _run(capsys, "cosh(x)**2", "--wrt", "x", "--claim", "sinh(2*x)")
    assert code == ExitCode.UNDECIDED == 4
    assert "df/dx: UNDECIDED: neither proved nor refuted" in out and "would decide" in out


# -- docs/check.md: every example runs as shown ----------------------------------------------

DOCS = __import__("pathlib").Path(__file__).resolve().parent.parent / "docs" / "check.md"


def _shell_blocks(text):
    blocks, current = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is not None:
                blocks.append(current)
                current = None
            elif line == "```":
                current = []
            continue
        if current is not None:
            current.append(line)
    return [b for b in blocks if b and b[0].startswith("$ derivaudit ")]


@pytest.mark.parametrize("block", _shell_blocks(DOCS.read_text()), ids=lambda b: b[0][:60])
def test_docs_check_shell_examples(block, capsys):
    import shlex
    main(shlex.split(block[0])[2:])
    out = capsys.readouterr().out.splitlines()
    for line in block[1:]:
        if line.strip() and line.strip() != "...":
            assert line in out, line


def test_docs_check_python_examples():
    import doctest
    failures, tried = doctest.testfile(str(DOCS), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert tried >= 8 and failures == 0


# -- found by the property tests -------------------------------------------------------------

def test_a_region_where_a_kink_argument_vanishes_is_judged_not_skipped():
    # max(100, -x) - 100 is 0 for every x > -100: not a switch of measure zero but a flat region,
    # where the perturbation relu(x - 1000) lives
    x = P("x")
    f = sp.Abs(sp.Max(100, -x) - 100)
    exact = sp.diff(f, x)
    wrong = compare_expressions(exact + sp.Max(0, x - 1000), exact, domain=[f])
    assert wrong.status == "different" and wrong.counterexample["x"] > 1000
    right = compare_expressions(exact + sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1, exact, domain=[f],
                                limits=Limits(simplify_seconds=0))
    assert right.status == "numerical"


def test_a_switch_scan_past_the_magnitude_limit_is_no_crash():
    # the grid scan for the zero of exp(1000000 - x) - 5 meets exp(10**6 + 10**6): beyond
    # Limits.max_value_digits, which is an unusable grid point, not an error
    x = P("x")
    f = sp.Abs(sp.exp(1000000 - x) - 5)
    exact = sp.diff(f, x)
    right = compare_expressions(exact + sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1, exact, domain=[f],
                                limits=Limits(simplify_seconds=0))
    assert right.status == "numerical"
