"""Claims audited by derivaudit.check: correct, wrong (with the mistake named), kinks, domains."""

import multiprocessing

import mpmath
import pytest
import sympy as sp

import derivaudit as da
from derivaudit.checks.check import Mistake, Verdict, check, split_claim
from derivaudit.errors import DerivauditError, DomainError, ParseError
from derivaudit.limits import Limits
from derivaudit.lang.parse import parse_formula

PROVED, NUMERICAL, WRONG, KINK = (Verdict.PROVED, Verdict.NUMERICAL, Verdict.WRONG,
                                  Verdict.NOT_DIFFERENTIABLE)


# -- correct claims that need real simplification ---------------------------------------------

@pytest.mark.parametrize("formula, wrt, claim", [
    ("tanh(x)", "x", "1 - tanh(x)**2"),
    ("tanh(x)", "x", "1/cosh(x)**2"),
    ("tanh(x)", "x", "4/(exp(x) + exp(-x))**2"),
    ("tanh(x)", "x", "(cosh(x)**2 - sinh(x)**2)/cosh(x)**2"),
    ("tanh(2*x)", "x", "2/cosh(2*x)**2"),
    ("sigmoid(x)", "x", "sigmoid(x)*(1 - sigmoid(x))"),
    ("sigmoid(x)", "x", "exp(-x)/(1 + exp(-x))**2"),
    ("sigmoid(x)", "x", "exp(x)/(1 + exp(x))**2"),
    ("sigmoid(x)", "x", "(1 - tanh(x/2)**2)/4"),
    ("exp(x)/(1 + exp(x))", "x", "sigmoid(x)*(1 - sigmoid(x))"),
    ("(1 + tanh(x/2))/2", "x", "sigmoid(x)*(1 - sigmoid(x))"),
    ("softplus(x)", "x", "sigmoid(x)"),
    ("log(1 + exp(w*x + b))", "w", "x*sigmoid(w*x + b)"),
    ("log(1 + exp(w*x + b))", "b", "1/(1 + exp(-w*x - b))"),
    ("sin(x)**2", "x", "sin(2*x)"),
    ("sin(x)*cos(x)", "x", "cos(2*x)"),
    ("log(x**2 + 1)", "x", "2*x/(x**2 + 1)"),
    ("sqrt(x**2 + 1)", "x", "x/sqrt(x**2 + 1)"),
    ("atan(x)", "x", "1/(1 + x**2)"),
    ("x/(1 + x)", "x", "(1 + x - x)/(1 + x)**2"),
    ("exp(x)*sin(x)", "x", "sqrt(2)*exp(x)*sin(x + pi/4)"),
])
def test_correct_claims_are_proved(formula, wrt, claim):
    result = check(formula, wrt, claim)
    assert result.verdict is PROVED, result.components[0].comparison
    assert result.correct and result.exit_code == 0
    assert result.difference == 0
    assert result.counterexample is None and result.evidence is None


@pytest.mark.parametrize("formula, claim", [
    ("asin(x)", "1/sqrt(1 - x**2)"),       # domain |x| < 1
    ("acos(x)", "-1/sqrt(1 - x**2)"),
    ("sqrt(x - 40)", "1/(2*sqrt(x - 40))"),  # domain x > 40: far from the first points tried
    ("log(x)", "1/x"),
    ("acosh(x)", "1/sqrt(x**2 - 1)"),       # x > 1
])
def test_correct_claims_on_restricted_domains(formula, claim):
    result = check(formula, claim=claim)
    assert result.correct
    assert result.verdict in (PROVED, NUMERICAL)


def test_correct_only_on_the_domain_is_proved_with_the_domain():
    # 1/|x| equals 1/x where log(x) is defined (x > 0): proved with x declared positive
    result = check("log(x)", claim="1/abs(x)")
    assert result.verdict is PROVED
    assert result.components[0].comparison.method == "expand, with x > 0 as on the domain"
    result = check("x**x", claim="exp(x*log(x))*(1 + log(x))")
    assert result.verdict is PROVED and "x > 0" in result.components[0].comparison.method
    # without the domain the same claim is wrong: 1/|x| is not 1/x for x < 0
    assert check("log(abs(x))", claim="1/abs(x)").verdict is WRONG


def test_numerical_verdict_says_points_and_precision():
    result = check("log(x)", claim="1/abs(x)", limits=Limits(simplify_seconds=0))
    assert result.verdict is NUMERICAL
    comparison = result.components[0].comparison
    # the 24 random points and the witness search's planned ones (branch point 0, magnitudes)
    assert comparison.points_tested > 24 and comparison.dps == 50
    assert comparison.method.startswith(f"equal to 50 digits at {comparison.points_tested} points "
                                        "(x in [1.0e-6, 3000]; both sides of every kink and branch point")


# -- wrong claims: the likely mistake is named ------------------------------------------------

def _mistakes(result):
    return [d.mistake for d in result.diagnosis]


@pytest.mark.parametrize("formula, wrt, order, claim, mistake, detail", [
    ("cos(x)", "x", 1, "sin(x)", Mistake.SIGN, -1),
    ("x/(1 + x)", "x", 1, "(x - (1 + x))/(1 + x)**2", Mistake.SIGN, -1),
    ("x**3", "x", 1, "x**2", Mistake.FACTOR, sp.Rational(1, 3)),
    ("sin(x)**2", "x", 1, "sin(x)*cos(x)", Mistake.FACTOR, sp.Rational(1, 2)),
    ("x**2*sin(x)", "x", 1, "2*x*sin(x)", Mistake.MISSING_TERM, "x**2*cos(x)"),
    ("exp(x)/x", "x", 1, "-exp(x)/x**2", Mistake.MISSING_TERM, "exp(x)/x"),
    ("x**2", "x", 1, "2*x + 1", Mistake.EXTRA_TERM, 1),
    ("x**2*sin(x)", "x", 1, "2*x*sin(x) + x**2*cos(x) + x", Mistake.EXTRA_TERM, "x"),
    ("x**2*y", "x", 1, "x**2", Mistake.WRONG_VARIABLE, "y"),
    ("w*x + sin(w)", "x", 1, "x + cos(w)", Mistake.WRONG_VARIABLE, "w"),
    ("log(1 + exp(w*x + b))", "w", 1, "sigmoid(w*x + b)", Mistake.CHAIN_RULE, "x"),
    ("sin(3*x)", "x", 1, "cos(3*x)", Mistake.CHAIN_RULE, 3),
    ("exp(x**2)", "x", 1, "exp(x**2)", Mistake.CHAIN_RULE, "2*x"),
    ("sin(x**2)", "x", 1, "cos(x**2)", Mistake.CHAIN_RULE, "2*x"),
    ("tanh(w*x)", "w", 1, "1 - tanh(w*x)**2", Mistake.CHAIN_RULE, "x"),
    ("sin(x)", "x", 2, "cos(x)", Mistake.WRONG_ORDER, 1),
    ("x**4", "x", 2, "4*x**3", Mistake.WRONG_ORDER, 1),
    ("sin(x)", "x", 1, "sin(x)", Mistake.WRONG_ORDER, 0),
])
def test_wrong_claims_name_the_mistake(formula, wrt, order, claim, mistake, detail):
    result = check(formula, wrt, claim, order=order)
    assert result.verdict is WRONG and not result.correct and result.exit_code == 1
    first = result.diagnosis[0]
    assert first.mistake is mistake, result.diagnosis
    expected = parse_formula(detail) if isinstance(detail, str) and mistake not in (
        Mistake.WRONG_VARIABLE,) else detail
    assert first.detail == expected
    # the difference is reported simplified and is really claim - exact
    component = result.components[0]
    assert sp.simplify(component.difference - (component.claim - component.exact)) == 0


def test_wrong_claim_counterexample_and_values():
    result = check("theta**3", "theta", "3*theta")
    assert result.verdict is WRONG
    assert result.counterexample == {"theta": sp.Rational(1, 2)}
    component = result.components[0]
    assert component.comparison.claim_value == mpmath.mpf("1.5")
    assert component.comparison.exact_value == mpmath.mpf("0.75")
    assert sp.expand(result.difference - (3 * sp.Symbol("theta", real=True)
                                           - 3 * sp.Symbol("theta", real=True) ** 2)) == 0


def test_evidence_converges_to_exact_not_to_claim():
    table = check("theta**3", "theta", "3*theta").evidence.table
    assert set(table["scheme"]) == {"centered", "forward"}
    centered = table[table.scheme == "centered"]
    # the centered error is exactly eps**2 * f'''/6 = eps**2 for theta**3
    with mpmath.workdps(50):
        assert centered["abs_error"].iloc[-1] == mpmath.mpf("1e-12")
    assert centered["observed_order"].iloc[-1] == pytest.approx(2.0, abs=1e-6)
    assert all(c == mpmath.mpf("1.5") for c in table["claim"])
    # the distance to the claim tends to |claim - exact| = 0.75, not to 0
    assert mpmath.almosteq(table["distance_to_claim"].iloc[-1], mpmath.mpf("0.75"), 1e-5)


def test_wrong_claim_with_no_simple_pattern_has_no_diagnosis():
    assert check("theta**3", "theta", "3*theta").diagnosis == ()


def test_sign_flip_in_a_second_derivative():
    result = check("cos(x)", "x", "cos(x)", order=2)
    assert result.verdict is WRONG
    assert Mistake.SIGN in _mistakes(result)


def test_difference_beyond_fifty_digits_is_caught():
    result = check("x**2", claim="2*x + 1e-40")
    assert result.verdict is WRONG
    assert result.diagnosis[0].mistake is Mistake.EXTRA_TERM
    assert result.diagnosis[0].detail == sp.Rational(1, 10 ** 40)


def test_difference_below_the_working_precision_is_still_a_witness():
    # at 30 digits both sides print alike, but the ball of claim − exact = 1e-40 excludes 0
    result = check("x**2", claim="2*x + 1e-40", dps=30)
    assert result.verdict is WRONG
    assert result.difference == sp.Rational(1, 10 ** 40)
    assert abs(result.components[0].comparison.difference_value - mpmath.mpf("1e-40")) < mpmath.mpf("1e-43")


def test_claim_undefined_where_the_derivative_exists_is_wrong():
    # 2*exp(log(x**3)/3) equals 2*x only for x > 0; x**2 is differentiable everywhere
    result = check("x**2", claim="2*exp(log(x**3)/3)")
    assert result.verdict is WRONG
    assert result.counterexample["x"] < 0
    assert result.components[0].comparison.claim_value is None


# -- simplification budget -------------------------------------------------------------------

def test_simplification_timeout_falls_back_to_numeric_evidence():
    tiny = Limits(simplify_seconds=0.001)
    result = check("tanh(x)", claim="4/(exp(x) + exp(-x))**2", limits=tiny)
    assert result.verdict is NUMERICAL and result.correct
    comparison = result.components[0].comparison
    assert "gave up after 0.001 s" in comparison.method
    assert comparison.points_tested > 24 and comparison.dps == 50
    assert multiprocessing.active_children() == []   # the worker was killed and reaped


def test_timeout_does_not_hide_a_wrong_claim():
    tiny = Limits(simplify_seconds=0.001)
    result = check("tanh(x)", claim="4/(exp(x) + exp(-x))", limits=tiny)
    assert result.verdict is WRONG


# -- kinks -----------------------------------------------------------------------------------

@pytest.mark.parametrize("formula, claim", [
    ("relu(x)", "relu(x)/x"),
    ("abs(x)", "x/abs(x)"),
    ("abs(x)", "abs(x)/x"),
    ("max(x, 2*x)", "(3 + abs(x)/x)/2"),
    ("relu(x - 1)", "(1 + abs(x - 1)/(x - 1))/2"),
])
def test_kinked_claims_are_proved_on_each_side(formula, claim):
    result = check(formula, claim=claim)
    assert result.verdict is PROVED
    assert "each side of every kink" in result.components[0].comparison.method


def test_relu_at_its_kink_is_not_differentiable():
    result = check("relu(x)", claim="relu(x)/x", at={"x": 0})
    assert result.verdict is KINK
    assert result.correct and result.exit_code == 0   # the claim is right wherever f' exists
    sided = result.components[0].one_sided
    assert sided.left == 0 and sided.right == 1
    assert result.evidence is None


def test_abs_at_its_kink_gives_both_one_sided_limits():
    sided = check("abs(x)", claim="x/abs(x)", at={"x": 0}).components[0].one_sided
    assert (sided.left, sided.right) == (-1, 1)
    assert "differ" in sided.reason


def test_second_derivative_at_a_kink_reports_the_kink_of_f():
    result = check("abs(x)", claim="0", order=2, at={"x": 0})
    assert result.verdict is KINK and result.correct   # f'' = 0 wherever it exists
    sided = result.components[0].one_sided
    assert (sided.left, sided.right) == (-1, 1) and "of f differ" in sided.reason


def test_second_derivative_at_a_kink_of_the_first_derivative():
    result = check("x*abs(x)", claim="2*abs(x)/x", order=2, at={"x": 0})
    assert result.verdict is KINK and result.correct
    sided = result.components[0].one_sided
    assert (sided.left, sided.right) == (-2, 2) and "of df/dx differ" in sided.reason


def test_cusp_one_sided_quotients_diverge():
    result = check("sqrt(abs(x))", claim="x/(2*abs(x)**1.5)", at={"x": 0})
    assert result.verdict is KINK and result.correct
    sided = result.components[0].one_sided
    assert sided.left is None and sided.right is None and "diverge" in sided.reason


def test_kink_that_is_differentiable_gets_a_normal_verdict():
    result = check("x*abs(x)", claim="2*abs(x)", at={"x": 0})
    assert result.verdict is PROVED
    component = result.components[0]
    assert component.one_sided is None
    assert component.exact_at_point == 0 and component.claim_at_point == 0


def test_wrong_kinked_claim_has_a_counterexample_off_the_kink():
    result = check("abs(x)", claim="1")
    assert result.verdict is WRONG
    assert result.counterexample["x"] < 0
    assert result.diagnosis == ()   # right for x > 0, sign flipped for x < 0: no single class
    # the evidence table is taken at the counterexample, away from the kink
    assert result.evidence is not None


def test_wrong_claim_at_a_kink_point_reports_both():
    result = check("relu(x)", claim="1", at={"x": 0})
    # the component says the point is a kink; the check is wrong (a counterexample at x < 0), and
    # its verdict and exit code say so together (issue 21: no verdict "kink" with exit code 1)
    assert result.components[0].verdict is KINK and result.components[0].one_sided is not None
    assert result.verdict is WRONG and not result.correct and result.exit_code == 1 and not result.ok


# -- domain edges ----------------------------------------------------------------------------

@pytest.mark.parametrize("formula, point", [
    ("log(x)", {"x": -1}),
    ("log(x)", {"x": 0}),
    ("sqrt(1 - x**2)", {"x": 2}),
    ("1/(x - 1)", {"x": 1}),
])
def test_point_outside_the_domain_is_a_domain_error(formula, point):
    with pytest.raises(DomainError, match="outside the formula's domain"):
        check(formula, claim="1", at=point)


def test_derivative_undefined_at_a_domain_edge():
    result = check("sqrt(x)", claim="1/(2*sqrt(x))", at={"x": 0})
    assert result.verdict is KINK and result.correct
    assert "undefined" in result.components[0].one_sided.reason


def test_counterexample_lies_inside_a_narrow_domain():
    result = check("acos(x)", claim="1/sqrt(1 - x**2)")
    assert result.diagnosis[0].mistake is Mistake.SIGN
    assert abs(result.counterexample["x"]) < 1
    result = check("sqrt(x - 40)", claim="1/sqrt(x - 40)")
    assert result.counterexample["x"] > 40
    assert result.diagnosis[0].mistake is Mistake.FACTOR and result.diagnosis[0].detail == 2


def test_evidence_at_a_given_point_near_a_domain_edge_uses_smaller_steps():
    result = check("log(x)", claim="2/x", at={"x": "0.05"})
    assert result.verdict is WRONG
    table = result.evidence.table
    assert table is not None and max(table["eps"]) < mpmath.mpf("0.05")
    assert result.components[0].claim_at_point == 40 and result.components[0].exact_at_point == 20


# -- gradients -------------------------------------------------------------------------------

def test_gradient_from_comma_separated_claim():
    result = check("x**2*y", grad="x,y", claim="2*x*y, x**2")
    assert [c.verdict for c in result.components] == [PROVED, PROVED]
    assert [c.variable for c in result.components] == ["x", "y"]
    assert result.gradient and result.exit_code == 0


def test_gradient_from_a_list_with_one_wrong_component():
    result = check("x*y + sin(x)", grad=["x", "y"], claim=["y + cos(x)", "y"])
    assert [c.verdict for c in result.components] == [PROVED, WRONG]
    assert result.verdict is WRONG and result.exit_code == 1
    with pytest.raises(DerivauditError, match="components"):
        result.exact   # ambiguous for a gradient


def test_swapped_gradient_components_are_wrong_variable():
    result = check("x**2*y", grad="x,y", claim="x**2, 2*x*y")
    assert [c.diagnosis[0].mistake for c in result.components] == [Mistake.WRONG_VARIABLE] * 2
    assert [c.diagnosis[0].detail for c in result.components] == ["y", "x"]


def test_gradient_of_a_neuron_with_max_in_the_claim():
    result = check("max(x, y)", grad="x,y",
                   claim="(1 + abs(x - y)/(x - y))/2, (1 - abs(x - y)/(x - y))/2")
    assert [c.verdict for c in result.components] == [PROVED, PROVED]


@pytest.mark.parametrize("claim", ["2*x*y", "2*x*y, x**2, 1"])
def test_gradient_with_wrong_number_of_components(claim):
    with pytest.raises(DerivauditError, match="gradient has 2"):
        check("x**2*y", grad="x,y", claim=claim)


# -- higher derivatives ----------------------------------------------------------------------

@pytest.mark.parametrize("formula, order, claim", [
    ("sin(x)", 2, "-sin(x)"),
    ("exp(2*x)", 2, "4*exp(2*x)"),
    ("x**3", 3, "6"),
    ("sigmoid(x)", 2, "sigmoid(x)*(1 - sigmoid(x))*(1 - 2*sigmoid(x))"),
    ("log(x)", 2, "-1/x**2"),
])
def test_higher_derivatives_are_proved(formula, order, claim):
    result = check(formula, claim=claim, order=order)
    assert result.verdict is PROVED
    assert result.components[0].label == f"d^{order}f/dx^{order}"


def test_second_derivative_evidence_uses_second_order_stencils():
    result = check("exp(2*x)", claim="2*exp(2*x)", order=2)
    assert result.verdict is WRONG
    assert {d.mistake for d in result.diagnosis} >= {Mistake.FACTOR, Mistake.WRONG_ORDER}
    assert set(result.evidence.table["derivative"]) == {2}


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, fragment", [
    (dict(formula="x**", claim="1"), ParseError, "formula"),
    (dict(formula="x**2", claim="2*x**"), ParseError, "claim"),
    (dict(formula="x**2", claim="2*sine(x)"), ParseError, "did you mean 'sin'"),
    (dict(formula="x**2", claim="2*y"), DerivauditError, "the claim uses y"),
    (dict(formula="x**2", claim="2*x, 1"), DerivauditError, "2 components"),
    (dict(formula="x*y", claim="y"), DerivauditError, "say which one"),
    (dict(formula="x*y", wrt="z", claim="y"), DerivauditError, "'z' is not a variable"),
    (dict(formula="x*y", wrt="x", grad="x,y", claim="y"), DerivauditError, "not both"),
    (dict(formula="x*y", grad="x,y", claim="y, x", order=2), DerivauditError, "first derivative"),
    (dict(formula="x**2", claim=None), DerivauditError, "no claim"),
    (dict(formula="x**2", claim="2*x", order=0), DerivauditError, "order"),
    (dict(formula="x**2", claim="2*x", at={"y": 1}), DerivauditError, "no value given for x"),
    (dict(formula="3", claim="0"), DerivauditError, "no variables"),
])
def test_bad_input_names_the_part_at_fault(kwargs, error, fragment):
    with pytest.raises(error, match=fragment.replace("(", r"\(")):
        check(**kwargs)


def test_split_claim_respects_brackets():
    assert split_claim("max(x, y), min(x, y) + 1") == ["max(x, y)", "min(x, y) + 1"]
    assert split_claim("2*x") == ["2*x"]
    assert split_claim("[2*x*y, x**2]") == split_claim("(2*x*y, x**2)") == ["2*x*y", "x**2"]
    assert split_claim("(x + 1)*(y + 1)") == ["(x + 1)*(y + 1)"]
    assert split_claim("(max(x, y))") == ["(max(x, y))"]


def test_package_exports_check():
    result = da.check("theta**3", wrt="theta", claim="3*theta**2")
    assert isinstance(result, da.CheckResult) and result.verdict is da.Verdict.PROVED
    assert str(da.Verdict.NUMERICAL) == "correct (numerically)"


def test_factor_with_a_transcendental_constant():
    result = check("log10(x)", claim="1/x")
    assert result.diagnosis[0].mistake is Mistake.FACTOR
    assert result.diagnosis[0].detail == sp.log(10)


def test_evidence_at_a_zero_of_the_formula():
    # the first counterexample, x = 2, is a zero of sin(pi*x): exact zeros are resolved,
    # so the evidence is taken there and converges to the exact pi, not to the claim's 1
    result = check("sin(pi*x)", claim="cos(pi*x)")
    assert result.counterexample == {"x": 2}
    component = result.components[0]
    assert component.evidence_point == {"x": 2}
    evidence = component.evidence.table
    centered = evidence[evidence.scheme == "centered"]
    with mpmath.workdps(50):
        assert centered.abs_error.iloc[-1] < mpmath.mpf("1e-9")
        assert abs(centered.distance_to_claim.iloc[-1] - (mpmath.pi - 1)) < mpmath.mpf("1e-9")
    assert result.diagnosis[0].mistake is Mistake.CHAIN_RULE and result.diagnosis[0].detail == sp.pi


def test_point_where_the_formula_is_zero_is_inside_the_domain():
    result = check("sin(pi*x)", claim="pi*cos(pi*x)", at={"x": 1})
    assert result.verdict is PROVED
    with mpmath.workdps(50):
        assert mpmath.almosteq(result.components[0].exact_at_point, -mpmath.pi, 1e-45)


def test_high_orders_stay_within_the_derivative_limit():
    # the wrong-order candidates stop at Limits.max_derivative_order (20)
    result = check("sin(x)", claim="0", order=20)
    assert result.verdict is WRONG
    assert result.diagnosis[0].mistake is Mistake.MISSING_TERM
    assert result.diagnosis[0].detail == sp.sin(sp.Symbol("x", real=True))
    with pytest.raises(da.LimitExceeded, match="max_derivative_order"):
        check("sin(x)", claim="0", order=21)


@pytest.mark.parametrize("formula, point, kink", [
    ("abs(sin(pi*x))", {"x": 1}, True),      # the switch value is 0 only after resolution
    ("abs(x - pi/4)", {"x": "pi/4"}, True),
    ("relu(x)", {"x": "1e-20"}, False),      # next to the switch is not on it
])
def test_kink_detection_at_irrational_and_nearby_points(formula, point, kink):
    result = check(formula, claim="relu(x)/x" if formula == "relu(x)" else "0", at=point)
    assert (result.components[0].verdict is KINK) is kink


def test_points_beyond_the_evaluation_limits_are_not_evidence():
    # exp(exp(exp(x))) passes 10**1000000 for x above about 2.6; such points are skipped
    result = check("exp(exp(exp(x)))", claim="exp(exp(exp(x)))*exp(exp(x))")
    assert result.verdict is WRONG
    assert result.diagnosis[0].mistake is Mistake.CHAIN_RULE
    assert check("exp(exp(exp(x)))", claim="exp(exp(exp(x)) + exp(x) + x)").verdict is PROVED
