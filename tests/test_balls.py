"""The certified ball engine: values against mpmath at three times the digits,
sound kinks, fallbacks, names that cannot collide, errors."""

import math

import mpmath
import pytest
import sympy as sp
from flint import arb

from derivaudit.core.ball_steps import MPMATH_FALLBACKS
from derivaudit.core.balls import UnsupportedFunction, compile_balls, exact_ball
from derivaudit.core.certify import certified_value, excludes_zero
from derivaudit.errors import DomainError, LimitExceeded
from derivaudit.lang.parse import make_symbol, parse_formula
from derivaudit.limits import Limits

x, y = make_symbol("x"), make_symbol("y")


def _reference(expr, point, digits):
    """mpmath at 3·digits + 50, through sympy's own evalf (independent of the engine)."""
    value = expr.xreplace(point).evalf(3 * digits + 50)
    return mpmath.mp.make_mpf(sp.Float(value, 3 * digits + 50)._mpf_)


CASES = [
    ("sin(x)", {x: sp.Integer(10) ** 20}),
    ("cos(x)", {x: sp.Integer(10) ** 15}),
    ("softplus(x)", {x: -40}),
    ("(1 - cos(x))/x**2", {x: sp.Rational(1, 10 ** 8)}),
    ("(exp(x) - 1 - x)/x**2", {x: sp.Rational(1, 10 ** 6)}),
    ("sigmoid(x)*tanh(x) + erf(x)", {x: sp.Rational(3, 7)}),
    ("atan(x)**3 - asinh(x)/sqrt(x)", {x: sp.Rational(22, 7)}),
    ("log(x)**-3 + x**(1/3)", {x: sp.Rational(5, 2)}),
    ("x**y + acosh(y)", {x: sp.Rational(3, 2), y: sp.Rational(7, 3)}),
    ("exp(-x**2) * cosh(x)", {x: 12}),
]


@pytest.mark.parametrize("text,point", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("digits", [15, 50, 100])
def test_certified_values_agree_with_mpmath_at_three_times_the_digits(text, point, digits):
    expr = parse_formula(text)
    ball = certified_value(expr, point, digits)
    reference = _reference(expr, point, digits)
    assert ball.digits >= digits
    with mpmath.workdps(3 * digits + 50):
        assert abs(ball.mid - reference) <= ball.rad
        assert abs(ball.mid - reference) <= abs(reference) * mpmath.mpf(10) ** -digits
        # the printed digits are within one unit of the last digit
        printed = mpmath.mpf(mpmath.nstr(ball.mid, digits, strip_zeros=False))
    with mpmath.workdps(3 * digits + 50):
        assert abs(printed - reference) <= abs(reference) * mpmath.mpf(10) ** (1 - digits)


#: names of the engine and of the generated code's template (see derivaudit.core.ball_code)
ENGINE_NAMES = ["mpf", "_derivaudit_power", "mpmath", "exp", "r", "registers", "arb", "sqrt", "lambda_",
                "_0", "r0", "r1", "k", "k0", "F0", "G0", "s", "big", "tiny", "limit", "make", "run",
                "FAIL", "ABS", "CTX", "CGET", "CMAKE", "LIMITS", "BOUNDS", "source"]


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_a_variable_of_any_name_is_only_a_variable(name):
    v = sp.Symbol(name, real=True)
    expr = v ** 2 + sp.sin(v) ** 2 + sp.cos(v) ** 2 - 1
    ball = certified_value(expr, {v: sp.Rational(1, 2)}, 30)
    assert ball.mid == mpmath.mpf(1) / 4 or abs(ball.mid - mpmath.mpf(1) / 4) <= ball.rad


def test_generated_code_never_contains_the_formulas_names_or_numbers():
    """The generated source is the same text whatever the variables are called and
    whatever the numbers are: only register numbers, template names and operators."""
    def source(name, number):
        v, w = sp.Symbol(name, real=True), sp.Symbol(name + "_2", real=True)
        expr = sp.sin(v * w + number) ** 3 + sp.exp(-v ** 2 / number) + abs(v - w) + sp.acot(w)
        return compile_balls(expr, (v, w)).run.source
    reference = source("x", sp.Rational(7, 3))
    for name in ENGINE_NAMES:
        assert source(name, sp.Rational(7, 3)) == reference
    integer = source("x", sp.Integer(123456789))
    assert integer == source("mpf", sp.Integer(987654321)) and "123456789" not in integer
    assert "sin" not in reference and "acot" not in reference


def test_generated_and_step_programs_give_the_same_balls():
    """The generated function and the closures it was written from agree bit for bit."""
    from flint import ctx
    w = sp.Symbol("w", real=True)
    for expr in [parse_formula("x**5 - 3*x**3/7 + pi*x"), parse_formula("sigmoid(w*x + 1/3)"),
                 abs(x - sp.Rational(1, 3)) + sp.Max(x, w), x ** w + sp.exp(-x ** 2 / 2),
                 sp.Piecewise((x ** 2, x < 1), (sp.sqrt(x), True)) + sp.acoth(x + 2)]:
        variables = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
        f = compile_balls(expr, variables)
        for bits in (64, 300):
            saved, ctx.prec = ctx.prec, bits
            try:
                args = [arb(sp.Rational(3 + i, 7 + 2 * i).p) / (7 + 2 * i) for i in range(len(variables))]
                registers = list(args) + f._constants_at(bits)
                for step in f.steps:
                    registers.append(step(registers))
                got, want = f(*args), registers[f.result]
                assert (got.mid(), got.rad()) == (want.mid(), want.rad())
            finally:
                ctx.prec = saved


def test_mpf_named_variable_from_the_formula_language():
    mpf = make_symbol("mpf")
    expr = sp.diff(parse_formula("mpf**2"), mpf) - parse_formula("2*mpf + sin(1/2)**2 + cos(1/2)**2 - 1")
    assert not excludes_zero(expr, {mpf: 3})


def test_common_subexpressions_are_computed_once():
    inner = x ** 2 + 1
    formula = compile_balls(sp.sin(inner) ** 2 + sp.cos(inner) * sp.log(inner), (x,))
    assert sum(1 for node in formula.nodes if node == inner) == 1


# -- kinks on balls ----------------------------------------------------------------

def _straddling():
    return arb(0, 1e-3)  # [-0.001, 0.001]


@pytest.mark.parametrize("expr,low,high", [
    (sp.Abs(x), 0, 1e-3), (sp.Max(0, x), 0, 1e-3), (sp.Min(0, x), -1e-3, 0),
    (sp.sign(x), -1, 1), (sp.Heaviside(x), 0, 1), (sp.Piecewise((x - 1, x < 0), (x + 1, True)), -1.001, 1.001),
])
def test_a_kink_on_a_ball_straddling_it_covers_both_branches(expr, low, high):
    value = compile_balls(expr, (x,))(_straddling())
    assert value.contains(arb(low)) and value.contains(arb(high))


@pytest.mark.parametrize("expr,at,expected", [
    (sp.Abs(x - 50), 49, 1), (sp.Max(x, 100), 200, 200), (sp.sign(x), -3, -1),
    (sp.Heaviside(x), 0, sp.Rational(1, 2)), (sp.Heaviside(x - 2), 3, 1),
    (sp.DiracDelta(x - 1), 3, 0), (sp.DiracDelta(x, 2) * x, -1, 0),
])
def test_kinks_away_from_their_kink_are_exact(expr, at, expected):
    ball = certified_value(expr, {x: at}, 20)
    assert ball.mid == expected and ball.rad == 0


def test_dirac_delta_at_its_kink_is_undefined():
    with pytest.raises(DomainError, match="undefined"):
        certified_value(sp.DiracDelta(x), {x: 0}, 15)


def test_second_derivative_of_abs_and_relu_away_from_the_kink():
    for text in ("abs(x)", "relu(x)", "abs(x - 1)*x"):
        expr = sp.diff(parse_formula(text), x, 2)
        ball = certified_value(expr, {x: 3}, 15)
        assert ball.digits >= 15


# -- functions arb lacks: mpmath fallback, or a clear error ------------------------------

@pytest.mark.parametrize("head", sorted(MPMATH_FALLBACKS, key=lambda h: h.__name__), ids=lambda h: h.__name__)
def test_fallback_functions_are_certified_against_mpmath(head):
    at = sp.Rational(3, 7) if head is sp.asech else sp.Rational(17, 7)
    expr = head(x) * 3 + 1
    ball = certified_value(expr, {x: at}, 40)
    with mpmath.workdps(200):
        reference = MPMATH_FALLBACKS[head](mpmath.mpf(at.p) / at.q) * 3 + 1
        assert abs(ball.mid - reference) <= ball.rad
    assert ball.digits >= 40


def test_fallback_radius_covers_the_whole_argument_ball():
    f = compile_balls(sp.acot(x), (x,))
    value = f(arb(2, 0.5))
    for inside in (1.5, 2.0, 2.5):
        assert value.contains(arb(mpmath.acot(inside)).mid()) or value.overlaps(arb(float(mpmath.acot(inside))))
    assert value.rad() >= 0.5 * (1 / (1 + 2.5 ** 2))


def test_an_unknown_function_is_refused_when_compiled():
    with pytest.raises(UnsupportedFunction, match="no certified evaluation of g"):
        compile_balls(sp.Function("g")(x) + 1, (x,))
    with pytest.raises(UnsupportedFunction):
        compile_balls(sp.besselj(2, x), (x,))


# -- errors and limits -------------------------------------------------------------------

def test_undefined_at_an_exact_point_is_a_domain_error():
    with pytest.raises(DomainError, match=r"undefined at x=1"):
        certified_value(sp.log(x - 1), {x: 1}, 15)
    with pytest.raises(DomainError):
        certified_value(1 / (x - 2), {x: 2}, 15)


def test_a_value_that_is_zero_through_irrational_steps():
    with pytest.raises(LimitExceeded, match=r"sin\(pi\*x\) at x=2|the value at x=2"):
        certified_value(sp.sin(sp.pi * x), {x: 2}, 15, limits=Limits(max_dps=200))
    ball = certified_value(sp.sin(sp.pi * x), {x: 2}, 15, is_zero=lambda: True)
    assert ball.is_exact_zero
    # or below a stated resolution
    ball = certified_value(sp.sin(sp.pi * x), {x: 2}, 15, resolution=sp.Rational(1, 10 ** 20))
    assert ball.below_resolution and abs(ball.mid) + ball.rad < mpmath.mpf(10) ** -20


def test_limit_exceeded_names_the_number():
    with pytest.raises(LimitExceeded, match="the exact derivative cannot be certified to 15 digits"):
        certified_value(sp.sin(sp.pi * x), {x: 2}, 15, limits=Limits(max_dps=100),
                        what="the exact derivative")


def test_huge_exponentials_are_refused_not_computed():
    with pytest.raises(LimitExceeded, match="max_value_digits"):
        certified_value(sp.exp(sp.exp(sp.exp(sp.exp(x)))), {x: 10}, 15)


def test_exact_points():
    assert exact_ball(mpmath.mpf("0.1")).is_exact()
    assert exact_ball(sp.Float("1e20")).is_exact()
    assert exact_ball(sp.pi / 4).contains(arb.pi() / 4)
    ball = certified_value(x, {x: sp.pi / 4}, 40)
    with mpmath.workdps(60):
        assert abs(ball.mid - mpmath.pi / 4) < mpmath.mpf(10) ** -40


def test_outside_the_domain_at_an_inexact_point_is_a_domain_error():
    with pytest.raises(DomainError, match="undefined at x=17/7"):
        certified_value(sp.asech(x), {x: sp.Rational(17, 7)}, 15)
    with pytest.raises(DomainError, match="undefined at x=1/3"):
        certified_value(sp.log(-x), {x: sp.Rational(1, 3)}, 15)


def test_complex_step_formula():
    from flint import acb
    f = compile_balls(sp.exp(x) * sp.sin(x), (x,), complex=True)
    value = f(acb(1, 1e-30))
    derivative = (math.e * (math.sin(1) + math.cos(1)))
    assert abs(float((value.imag / arb(1e-30)).mid()) - derivative) < 1e-12
    with pytest.raises(DomainError, match="analytic"):
        compile_balls(sp.Abs(x), (x,), complex=True)


def test_long_sums_and_products_compile():
    # one generated line "r = a + b + ..." of 5000 terms overflowed the compiler's recursion
    # limit (RecursionError, an internal error); the closure program had no such limit
    n = 5000
    xs = sp.symbols(f"x0:{n}")
    f = compile_balls(sp.Add(*[x ** 2 for x in xs]), xs)
    assert f(*[arb(1)] * n) == n
    g = compile_balls(sp.Mul(*xs), xs)
    assert g(*[arb(1)] * n) == 1
    h = compile_balls(sp.Add(*xs), xs)
    assert h(*[arb(2)] * n) == 2 * n
