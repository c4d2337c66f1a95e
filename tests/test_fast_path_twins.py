"""Each fast path against the slow path it copies, on the same inputs, ball for ball.

- ``core/ball_code.py`` (one generated function per formula) against the closure
  program of ``balls.py``/``ball_steps.py`` (one closure per node, run register by register);
- ``BallSamples.values`` (a step's samples in one loop) against ``BallSamples.value``;
- ``StepCertifier._step_tries`` (every stencil of a step, inlined) against ``_try``.

"The same" means the same midpoint and the same radius, bit for bit: a speed copy
that rounds once more is a different engine.
"""

from __future__ import annotations

import pytest
import sympy as sp
from flint import ctx

from mpmath.libmp import dps_to_prec

from derivaudit.core.ball_steps import radius_mpf, to_mpf
from derivaudit.core.balls import compile_balls
from derivaudit.core.quotients import BallSamples, StepCertifier, _step_plan
from derivaudit.core.stencils import stencil
from derivaudit.lang.parse import parse_formula

LONG_SUM = " + ".join(f"sin({k}*x)/{k}" for k in range(1, 120))
LONG_PRODUCT = "*".join(f"(1 + x/{k})" for k in range(1, 90))
CORPUS = [
    "x", "x + 1", "3*x**2 - 2*x + 1", "x**3", "x**-2", "1/x", "x**(1/3)", "x**(2/3) + x**(3/2)",
    "sqrt(x)", "sqrt(1 + x**2)", "exp(x)", "exp(-x**2)", "log(x)", "log(1 + x**2)", "log1p(x)",
    "sin(x)", "cos(x)**2 + sin(x)**2", "tan(x)", "atan(x)", "asin(x/2)", "acos(x/3)",
    "sinh(x) - cosh(x)", "tanh(x)", "asinh(x)", "atanh(x/2)", "erf(x)", "1 - erf(x)", "sigmoid(x)",
    "x**x", "(1 + x)**x", "2**x", "x**10 - 10*x**9", "(x - 1)**7", "exp(sin(x))*atan(x)",
    "sin(x)/x", "(1 - cos(x))/x**2", "log(x)/(x - 2)", "x*exp(x)/(exp(x) - 1)",
    "abs(x)", "abs(x - 7/10)", "max(x, 0)", "min(x, 1/2)", "max(x - 7/10, 0)**2", "relu(x)",
    "abs(sin(x))", "max(sin(x), cos(x))", "softplus(x)",
    LONG_SUM, LONG_PRODUCT, " + ".join(f"x**{k}" for k in range(60)),
]
POINTS = (sp.Rational(7, 10), sp.Rational(-3, 2), sp.Rational(1, 10**8))


def _formula(text: str):
    try:
        expr = parse_formula(text)
    except Exception as exc:  # noqa: BLE001 - a name this build does not know is no twin to compare
        pytest.skip(f"{text}: {exc}")
    x = sorted(expr.free_symbols, key=str)
    return expr, tuple(x) or (sp.Symbol("x", real=True),)


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return to_mpf(a)._mpf_ == to_mpf(b)._mpf_ and radius_mpf(a)._mpf_ == radius_mpf(b)._mpf_


def _closure_program(formula, args):
    registers = list(args) + formula._constants_at(ctx.prec)
    for step in formula.steps:
        registers.append(step(registers))
    return registers[formula.result]


@pytest.mark.parametrize("text", CORPUS)
def test_generated_code_and_closure_program_give_the_same_balls(text):
    expr, variables = _formula(text)
    formula = compile_balls(expr, variables)
    compared = 0
    for bits in (64, 200, 1000):
        saved, ctx.prec = ctx.prec, bits
        try:
            for point in POINTS:
                args = formula.arguments({v: point for v in variables})
                fast = formula(*args)
                slow = _closure_program(formula, args)
                if not fast.is_finite() and not slow.is_finite():
                    continue  # outside the domain, both
                assert _same(fast, slow), (text, bits, point, fast, slow)
                compared += 1
        finally:
            ctx.prec = saved
    assert compared > 0


def _certifier(text: str, dps: int):
    expr, variables = _formula(text)
    x = variables[0]
    point = {v: POINTS[0] for v in variables}
    f = compile_balls(expr, variables)
    exact = compile_balls(sp.diff(expr, x), variables)
    samples = BallSamples(f, (x,), point)
    return samples, StepCertifier(samples, exact, point, dps)


SCHEMES = [stencil(name) for name in ("forward", "backward", "centered", "centered4", "centered8",
                                      "richardson-centered")]
STEPS = (sp.Rational(1, 10), sp.Rational(1, 10**6), sp.Rational(1, 10**20))


@pytest.mark.parametrize("text", [t for t in CORPUS if "abs" not in t and "max" not in t and "min" not in t
                                  and "relu" not in t])
def test_step_samples_in_one_loop_equal_one_by_one(text):
    for eps in STEPS:
        needed, _ = _step_plan(SCHEMES, eps)
        for bits in (96, 400):
            fast_samples, _ = _certifier(text, 30)
            slow_samples, _ = _certifier(text, 30)
            saved, ctx.prec = ctx.prec, bits
            try:
                fast = fast_samples.values(needed, bits)
                slow = [slow_samples.value(key, shift, bits) for key, shift in needed]
            finally:
                ctx.prec = saved
            assert len(fast) == len(slow)
            assert all(_same(a, b) for a, b in zip(fast, slow)), (text, eps, bits)


@pytest.mark.parametrize("text", [t for t in CORPUS[:40] if "x**-2" != t])
def test_step_tries_equal_try_stencil_by_stencil(text):
    for eps in STEPS:
        for bits in (128, 400):
            needed, plans = _step_plan(SCHEMES, eps)
            samples, fast = _certifier(text, 20)
            _, slow = _certifier(text, 20)
            saved, ctx.prec = ctx.prec, bits
            try:
                exact = fast.exact_at(bits)
                if exact[1] is None:
                    continue  # the inlined path is for a nonzero exact value only
                values = samples.values(needed, bits)
                inlined = fast._step_tries(SCHEMES, eps, bits, plans, values)
                tried = [slow._try(st, eps, bits)[0] for st in SCHEMES]
            finally:
                ctx.prec = saved
            for a, b in zip(inlined, tried):
                assert (a is None) == (b is None), (text, eps, bits)
                if a is not None:
                    assert _same(a.approx, b.approx) and _same(a.exact, b.exact) and _same(a.error, b.error)
                    assert (a.below_resolution, a.bits) == (b.below_resolution, b.bits)


@pytest.mark.parametrize("replace", [{"A1": "sigmoid(Z1)"}, {"A1": "relu(Z1)"}, {"A1": "np.exp(Z1)"},
                                     {"Z2": "W2 @ A1"}])
def test_what_if_model_equals_the_model_rebuilt_from_scratch(replace):
    """``build_what_if`` (re-evaluate the swapped definitions only) against ``build(replace=...)``."""
    from pathlib import Path

    from derivaudit.audits.graph import forward_chain
    from derivaudit.audits.spec import build, build_what_if, load_spec
    from derivaudit.lang.arrays import entries

    spec = load_spec(Path(__file__).resolve().parent.parent / "examples" / "mlp_2layer.toml")
    fast = build_what_if(spec.models["symbolic draws"], replace)
    slow = build(spec, replace=replace, symbolic_draws=True)
    assert forward_chain(fast) == forward_chain(slow)
    assert fast.loss == slow.loss
    for p in spec.claims:
        assert entries(fast.claims[p]) == entries(slow.claims[p])
    assert forward_chain(fast) != forward_chain(spec.models["symbolic draws"])


def _operands():
    """Entries a model's products meet: symbols, sums, products, numbers, powers, functions."""
    a, b, c = sp.symbols("a b c", real=True)
    W = sp.symbols("W[0,0] W[0,1] W[1,0]", real=True)
    n = sp.Symbol("n", commutative=False)
    return [a, b, c, *W, a + b, b + c, a + b + c, 1 - a ** 2, a - b, 2 * a + 3, a * b, 2 * a, a ** 2, sp.exp(a),
            sp.exp(b), sp.tanh(c), sp.Integer(3), sp.Rational(1, 8), sp.Integer(0), sp.Integer(1), sp.pi,
            sp.Float(0.5), -a, sp.oo, n, a / b, sp.sqrt(a)]


def test_product_builds_what_sympy_builds():
    """``terms.product(a, b)`` against ``a * b`` on every pair: equal, with the same arguments in the same order."""
    from derivaudit.lang.terms import product

    ops = _operands()
    for x in ops:
        for y in ops:
            fast, slow = product(x, y), x * y
            assert fast == slow and fast.args == slow.args and type(fast) is type(slow), (x, y)


def test_total_builds_what_sympy_builds():
    """``terms.total(ts)`` against ``sp.Add(*ts)`` on sums of products, repeated terms and numbers included."""
    import itertools
    import random

    from derivaudit.lang.terms import product, total

    ops = _operands()
    rng = random.Random(0)
    pairs = [product(x, y) for x, y in itertools.product(ops[:12], repeat=2)]
    for size in (1, 2, 3, 5, 8, 32):
        for _ in range(60):
            ts = rng.sample(pairs + ops, size)
            fast, slow = total(ts), sp.Add(*ts)
            assert fast == slow and fast.args == slow.args and type(fast) is type(slow), ts


def test_matmul_of_symbols_equals_sympy_matrix_product():
    """``W @ X`` of symbol arrays (the fast path) against sympy's own Matrix product, entry by entry."""
    from derivaudit.lang.array_ops import matmul
    from derivaudit.lang.arrays import as_data, symbol_array

    W, X = symbol_array("W", (3, 4)), symbol_array("X", (4, 2))
    ours = as_data(matmul(W, X))
    theirs = sp.Matrix(as_data(W).tolist()) * sp.Matrix(as_data(X).tolist())
    for i in range(3):
        for j in range(2):
            assert ours[i, j] == theirs[i, j] and ours[i, j].args == theirs[i, j].args


# -- rounding: the tie test of every number, and the table's rows in one loop -----------------

def _far_from_ties_plain(raw, mid, mid_exp, accuracy, digits):
    """``rounding._far_from_ties`` as first written (min/max, the powers shifted per call):
    the rewrite keeps every decision of it, so every stored number stays bit for bit."""
    _, man, exp, bc = raw
    if accuracy < 8 or exp > -10 or mid_exp > 0:
        return False
    mid = -mid if mid < 0 else mid
    size = mid.bit_length()
    e10 = ((exp + bc - 1) * 1233) >> 12
    shift = digits - 1 - e10
    if shift < 1 or shift >= 1199:
        return False
    spread = size - accuracy
    for shift in (shift, shift - 1):
        w = (10 ** shift) << 1
        z, radius = mid * w, (w << spread if spread >= 0 else (w >> -spread) + 1)
        zv, margin = man * w, 1 << (-exp - 8)
        low = min((z - radius) >> -mid_exp, (zv - margin) >> -exp)
        high = max((z + radius) >> -mid_exp, (zv + margin) >> -exp)
        if high != low and (high != low + 1 or high & 1):
            return False
        rounded = (high + 1) >> 1
        if rounded < 10 ** digits:
            return rounded >= 10 ** (digits - 1)
    return False


def _tie_cases(rng, n: int):
    """(raw, mid, mid_exp, accuracy, digits): random midpoints, and midpoints within a few
    units of the last bits of a decimal tie ``…5·10^E`` (where the test decides)."""
    from fractions import Fraction

    from mpmath.libmp import dps_to_prec, from_man_exp, round_nearest
    for i in range(n):
        digits = rng.choice([5, 15, 20, 30, 50, 100])
        prec = dps_to_prec(digits)
        if i % 2:
            size = rng.randint(prec - 5, prec + 200)
            mid, mid_exp = rng.getrandbits(size) * rng.choice([1, -1]) or 1, rng.randint(-size - 400, -size + 60)
        else:
            tie = (rng.randint(10 ** (digits - 1), 10 ** digits - 1) * 10 + 5) * Fraction(10) ** rng.randint(
                -digits - 60, 20 - digits)
            mid_exp = -400 - rng.randint(0, 100)
            mid = int(tie * 2 ** -mid_exp) + rng.randint(-2 ** rng.randint(0, 250), 2 ** rng.randint(0, 250))
        yield from_man_exp(mid, mid_exp, prec, round_nearest), mid, mid_exp, rng.randint(0, 420), digits


def test_far_from_ties_keeps_every_decision_of_its_plain_form():
    import random

    from derivaudit.core.rounding import _far_from_ties
    decided = {True: 0, False: 0}
    for case in _tie_cases(random.Random(25), 6000):
        expected = _far_from_ties_plain(*case)
        assert _far_from_ties(*case) is expected, case
        decided[expected] += 1
    assert min(decided.values()) > 1000  # both answers were exercised


def test_rounded_raws_in_one_loop_equal_rounded_raw_ball_by_ball():
    """``rounding.rounded_raws`` inlines ``rounded_raw``'s common path: on balls far from and
    near ties, exact and wide, 0 and of every size, the same raw tuples (None alike).  At 15
    digits about 1,900 of the 3,000 random balls take the common path, 300 are decided near
    a tie and 800 are undecided."""
    import random

    from flint import arb, arf

    from derivaudit.core.rounding import rounded_raw, rounded_raws
    rng = random.Random(7)
    balls = [arb(0), arb("0.125"), arb("0.125", 1e-30), arb(1) / 3, -arb(2) ** 0.5, arb(10) ** -300]
    for raw, mid, mid_exp, _, digits in _tie_cases(rng, 3000):
        radius = arf((rng.getrandbits(30), mid_exp + rng.randint(-30, mid.bit_length() - 20)))
        balls.append(arb(arf((mid, mid_exp)), radius))
    compared = 0
    for digits in (5, 15, 50, 100):
        prec = dps_to_prec(digits)
        assert rounded_raws(balls, digits, prec) == [rounded_raw(b, digits, prec) for b in balls]
        compared += len(balls)
    assert compared > 10000


@pytest.mark.parametrize("formula, at, order, dps", [
    ("exp(x)", "0.7", 1, 50), ("sin(x)", "0", 2, 15), ("x**3", "1", 1, 30), ("log(1 + x**2)", "2", 1, 20),
    ("sin(x)", "1e10", 1, 20), ("exp(x)", "700", 1, 15), ("abs(x - 7/10)", "0.7", 1, 30),
    ("x*tanh(softplus(x))", "0.8", 1, 100), ("1/x", "3", 1, 15),
])
def test_rows_rounded_in_one_pass_equal_row_by_row(monkeypatch, formula, at, order, dps):
    """``columns.round_rows`` rounds the common rows of every scheme in one pass; with
    ``rounded=None`` every row goes through ``cell_numbers`` (each scheme with its own memo,
    as before the pass).  Both give every column, value for value (raw mpf tuples)."""
    import derivaudit as da
    import derivaudit.studies.sweep as sweep_module
    from derivaudit.studies.columns import mp_columns

    rows = []

    def both(st, steps, step_floats, cells, dps, refine=None, memo=None, rounded=None):
        slow = mp_columns(st, steps, step_floats, cells, dps, refine, [None, None], None)
        fast = mp_columns(st, steps, step_floats, cells, dps, refine, memo, rounded)
        assert fast.keys() == slow.keys()
        for name in fast:
            a, b = fast[name], slow[name]
            assert [getattr(v, "_mpf_", v) for v in a] == [getattr(v, "_mpf_", v) for v in b] or (
                name == "observed_order" and all(x == y or (x != x and y != y) for x, y in zip(a, b))), name
        rows.append(sum(r is not None for r in rounded or ()))
        return fast

    monkeypatch.setattr(sweep_module, "mp_columns", both)
    da.study(formula, at={"x": at}, order=order, eps="1e-1,1e-3,1e-5,1e-7,1e-9,1e-12,1e-20,1e-30,1e-40", dps=dps,
             schemes=["forward", "backward", "centered", "centered4"])
    assert len(rows) == 4
    # the pass rounded rows, except where there is no derivative (the kink) or it is 0
    assert (sum(rows) == 0) == (formula.startswith("abs") or (formula, at) == ("sin(x)", "0"))
