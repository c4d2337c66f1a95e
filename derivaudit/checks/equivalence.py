"""Is a claimed expression identically equal to an exact one?

:func:`compare_expressions` decides ``claim ≡ exact`` in three ways, cheapest
first, and says which one decided:

1. **Numeric evidence** (always, in-process, milliseconds).  Both sides are
   compiled once with :func:`~derivaudit.numeric.compile_formula` and
   evaluated at ``points`` exact rational points drawn reproducibly
   (``seed``) inside the domain: points where an expression of ``domain`` or
   the exact side is undefined, infinite or complex are rejected and
   redrawn, and so are points within :data:`KINK_MARGIN` of a switch of
   ``abs``/``max``/``min``/``relu``/``sign``/``Heaviside``.  The first few
   points use small fractions (so that a counterexample reads ``x=3/2``),
   the rest 12-digit random decimals (so that an accidental root of the
   difference is never hit: a non-zero analytic difference vanishes on a
   set of measure zero — the Schwartz–Zippel argument for polynomials).
   A point is a counterexample when the two sides differ by more than
   ``10⁻ᵈᵖˢ`` relative to the larger of them, the difference being computed
   at ``2·dps + 30`` and ``2·dps + 45`` digits and required to be the same
   at both (rounding noise is not).
2. **Symbolic proof** when the numbers agree: canonical forms of
   ``claim − exact`` (``expand``; ``together`` + ``cancel``; hyperbolic
   functions rewritten as ``exp`` then ``cancel``; ``powsimp``; ``factor``;
   ``trigsimp``; a case split on both sides of every kink, see
   :func:`_zero_on_each_side`) and then :func:`sympy.simplify`.  All of it
   runs in a worker process that is killed after ``limits.simplify_seconds``,
   because a Python thread cannot be interrupted and ``simplify`` can run for
   hours.  Polynomial forms whose expansion would exceed
   :data:`MAX_EXPANDED_TERMS` terms are not attempted.
3. If the budget runs out first (or no form reaches 0), the verdict is
   ``"numerical"``: equal at every tested point to ``dps`` digits, not proved.

When the sides differ, the cheap forms (not ``simplify``), under the same
budget, only serve to present the shortest form of the difference.

Inside a daemonic process (a ``multiprocessing.Pool`` worker), which may not
start children, the cheap forms run in-process, and only when their
expansion is small.
"""

from __future__ import annotations

import math
import multiprocessing
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import mpmath
import sympy as sp

from derivaudit.errors import DerivauditError, DomainError, LimitExceeded
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.core.numeric import GUARD_DIGITS, CompiledFormula, compile_formula, evaluate_real, to_mpf
from derivaudit.lang.parse import free_variables

__all__ = ["STATUSES", "KINK_MARGIN", "Comparison", "compare_expressions", "kink_arguments",
           "off_switches", "draw_points", "expanded_terms", "safe_expand", "MAX_EXPANDED_TERMS",
           "positive_on_domain"]

#: possible values of :attr:`Comparison.status`
STATUSES = ("proved", "numerical", "different")

#: evidence points closer than this to a switch of abs/max/min/relu are not used
KINK_MARGIN = mpmath.mpf("1e-6")

#: how many of the first candidate points use small fractions
_NICE_POINTS = 6
_NICE_VALUES = [sp.Rational(p, q) for p, q in
                [(1, 2), (3, 2), (2, 1), (-1, 2), (1, 1), (-3, 2), (3, 4), (5, 2), (-2, 1), (1, 3)]]
#: candidate points tried per requested point before giving up on the domain
_ATTEMPTS_PER_POINT = 60


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing ``claim`` with ``exact``.

    ``status`` is ``"proved"`` (``claim − exact`` simplifies to 0),
    ``"numerical"`` (equal to ``dps`` digits at ``points_tested`` random
    points in the domain, but not reduced to 0 within the time budget) or
    ``"different"`` (``counterexample`` is an exact point where they differ;
    ``claim_value`` and ``exact_value`` are the two sides there, to ``dps``
    digits; ``claim_value`` is None where the claim is undefined or not real
    although the exact side is).  ``difference`` is ``claim − exact``
    simplified as far as the budget allowed; ``method`` says what decided.
    """

    status: str
    difference: sp.Expr
    counterexample: dict[str, sp.Expr] | None
    claim_value: mpmath.mpf | None
    exact_value: mpmath.mpf | None
    points_tested: int
    dps: int
    method: str

    @property
    def equal(self) -> bool:
        """True unless a counterexample was found."""
        return self.status != "different"


# --------------------------------------------------------------------------
# symbolic side: budgeted, in a worker process

def _hyperbolic_as_exp(expr: sp.Expr) -> sp.Expr:
    for function in (sp.tanh, sp.sinh, sp.cosh, sp.coth, sp.sech, sp.csch):
        expr = expr.rewrite(function, sp.exp)
    return expr


def _candidate_forms(expr: sp.Expr, use_simplify: bool) -> list[tuple[str, object]]:
    """``(method, function)`` pairs, from cheap canonical forms to :func:`sympy.simplify`.

    The polynomial forms (expand, cancel, factor) are left out when the
    expansion would have more than :data:`MAX_EXPANDED_TERMS` terms: they
    would only spend the budget.
    """
    forms: list[tuple[str, object]] = []
    if expanded_terms(expr) <= MAX_EXPANDED_TERMS:
        forms += [("expand", sp.expand), ("cancel", lambda e: sp.cancel(sp.together(e)))]
        if expr.has(sp.tanh, sp.sinh, sp.cosh, sp.coth, sp.sech, sp.csch):
            forms.append(("cancel after rewrite(exp)",
                          lambda e: sp.cancel(sp.together(_hyperbolic_as_exp(e)))))
        forms.append(("powsimp", lambda e: sp.powsimp(sp.expand(e), combine="exp")))
        forms.append(("factor", lambda e: sp.powsimp(sp.factor(e), deep=True)))
    if expr.has(sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc):
        forms.append(("trigsimp", sp.trigsimp))
    if expr.has(*_KINK_FUNCTIONS):
        forms.append(("cancel on each side of every kink", _zero_on_each_side))
    if use_simplify:
        forms.append(("simplify", sp.simplify))
    return forms


def _forms(expr: sp.Expr, use_simplify: bool) -> Iterator[tuple[str, sp.Expr]]:
    """Each form of ``expr`` that could be computed (a sympy failure skips one form)."""
    for method, function in _candidate_forms(expr, use_simplify):
        try:
            form = function(expr)
        except Exception:  # noqa: BLE001 - sympy raises many kinds; the next form may work
            continue
        yield method, form


_KINK_FUNCTIONS = (sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min)
#: deepest nesting of kink case splits (2**depth cases at most)
_MAX_KINK_SPLITS = 4


def _zero_on_each_side(expr: sp.Expr) -> sp.Expr:
    """0 if ``expr`` vanishes on both sides of every kink, else ``expr`` itself.

    A kink argument ``a = c·v + r`` linear in a variable ``v`` (``c`` a
    constant) splits the line into ``a > 0`` and ``a < 0``: substituting
    ``v = (±p − r)/c`` with ``p > 0`` turns ``abs(a)`` into ``p``, ``max(a, 0)``
    into ``p`` or 0, …, and each case is proved with the cheap forms.  The
    switch set ``a = 0`` itself has measure zero: the derivative of a kinked
    function does not exist there, and a claim is judged where it does.
    """
    return sp.Integer(0) if _cases_vanish(expr, 0) else expr


def _cases_vanish(expr: sp.Expr, depth: int) -> bool:
    arguments = kink_arguments([expr])
    if not arguments:
        return any(form == 0 for _, form in _forms(expr, False))
    if depth >= _MAX_KINK_SPLITS:
        return False
    for argument in arguments:
        for v in free_variables(argument):
            c = sp.diff(argument, v)
            rest = sp.expand(argument - c * v)
            if c.is_number and c != 0 and not rest.has(v):
                p = sp.Dummy("p", positive=True)
                return all(_cases_vanish(expr.subs(v, (sign * p - rest) / c), depth + 1)
                           for sign in (1, -1))
    return False


#: largest estimated number of terms :func:`safe_expand` lets sympy produce
MAX_EXPANDED_TERMS = 2_000


def expanded_terms(expr: sp.Expr) -> int:
    """An upper estimate of the number of terms ``sympy.expand(expr)`` produces.

    ``(a₁ + … + aₖ)ⁿ`` has at most ``C(n + k − 1, k − 1)`` monomials, a product
    the product of its factors' counts; function arguments are expanded too,
    so they count as well.  Capped at 10¹² so the estimate itself stays cheap.
    """
    cap = 10 ** 12
    if expr.is_Add:
        return min(cap, sum(expanded_terms(a) for a in expr.args))
    if expr.is_Mul:
        total = 1
        for factor in expr.args:
            total = min(cap, total * expanded_terms(factor))
        return total
    if expr.is_Pow:
        base = expanded_terms(expr.base)
        if expr.exp.is_Integer and expr.exp > 1 and base > 1:
            return min(cap, math.comb(int(expr.exp) + base - 1, base - 1))
        return max(base, expanded_terms(expr.exp))
    return max([1] + [expanded_terms(a) for a in expr.args if isinstance(a, sp.Expr)])


def safe_expand(expr: sp.Expr) -> sp.Expr:
    """``sympy.expand(expr)``, or ``expr`` itself when the expansion would be huge."""
    return expr if expanded_terms(expr) > MAX_EXPANDED_TERMS else sp.expand(expr)


def _size(expr: sp.Expr) -> int:
    return sp.count_ops(expr, visual=False)


def _all_forms(variants: Sequence[tuple[str, sp.Expr]], use_simplify: bool
               ) -> Iterator[tuple[str, sp.Expr]]:
    """The forms of each variant ``(how, expr)`` of the difference, in turn."""
    for how, expr in variants:
        for method, form in _forms(expr, use_simplify):
            yield method + how, form


def _symbolic_worker(variants, use_simplify: bool, conn) -> None:
    """Send every form found as ``(method, form)``; stop at the first zero."""
    try:
        for method, form in _all_forms(variants, use_simplify):
            conn.send((method, form))
            if form == 0:
                break
    finally:
        conn.close()


def positive_on_domain(domain: Iterable[sp.Expr]) -> list[sp.Symbol]:
    """Variables that are positive wherever every ``domain`` expression is real.

    ``log(x)`` is real only for ``x > 0`` and ``x**(p/q)`` (``sqrt(x)``) with
    non-integer ``p/q`` only for ``x ≥ 0`` (``x = 0`` is a single point), so a
    variable met as such an argument may be assumed positive in a proof.
    """
    found: set[sp.Symbol] = set()
    for expr in domain:
        for node in sp.preorder_traversal(expr):
            if isinstance(node, sp.log) and isinstance(node.args[0], sp.Symbol):
                found.add(node.args[0])
            elif (isinstance(node, sp.Pow) and isinstance(node.base, sp.Symbol)
                  and node.exp.is_Rational and not node.exp.is_Integer):
                found.add(node.base)
    return sorted(found, key=lambda v: v.name)


def _variants(expr: sp.Expr, positive: Sequence[sp.Symbol]) -> list[tuple[str, sp.Expr]]:
    """The difference as it is, and with the domain's positive variables declared positive."""
    variants = [("", expr)]
    positive = [v for v in positive if expr.has(v)]
    if positive:
        names = ", ".join(v.name for v in positive)
        substituted = expr.subs({v: sp.Symbol(v.name, positive=True) for v in positive})
        variants.append((f", with {names} > 0 as on the domain", substituted))
    return variants


def _mp_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


@dataclass(frozen=True)
class _Symbolic:
    proved_by: str | None   # method that reduced the difference to 0
    best: sp.Expr           # shortest form seen
    finished: bool          # every form was tried within the budget


def _symbolic(expr: sp.Expr, seconds: float, use_simplify: bool = True,
              positive: Sequence[sp.Symbol] = ()) -> _Symbolic:
    """Try to reduce ``expr`` to 0 within ``seconds`` (wall clock, worker process).

    ``positive`` variables are positive on the domain: if ``expr`` as it is
    does not reduce to 0, it is tried again with them declared positive.
    """
    variants = _variants(expr, positive)
    forms: list[tuple[str, sp.Expr]] = []
    finished = False
    if seconds > 0:
        try:
            ctx = _mp_context()
            receiver, sender = ctx.Pipe(duplex=False)
            worker = ctx.Process(target=_symbolic_worker, args=(variants, use_simplify, sender),
                                 daemon=True)
            worker.start()
        except (AssertionError, OSError, ValueError):
            # e.g. inside a daemonic worker, which may not have children: the cheap forms
            # in-process, but only where they cannot blow up (nothing could stop them here)
            if expanded_terms(expr) <= MAX_EXPANDED_TERMS:
                forms = list(_all_forms(variants, False))
            finished = False
        else:
            sender.close()
            deadline = time.monotonic() + seconds
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not receiver.poll(remaining):
                        break
                    try:
                        forms.append(receiver.recv())
                    except EOFError:
                        finished = True
                        break
                    if forms[-1][1] == 0:
                        finished = True
                        break
            finally:
                if worker.is_alive():
                    worker.kill()
                worker.join()
                receiver.close()
    for method, form in forms:
        if form == 0:
            return _Symbolic(method, sp.Integer(0), True)
    # a form with nan/zoo (e.g. a Piecewise for the kink) is true but unreadable as a difference
    readable = [f for _, f in forms if not f.has(sp.nan, sp.zoo)]
    best = min([expr] + readable, key=_size)
    return _Symbolic(None, best, finished)


# --------------------------------------------------------------------------
# numeric side

def kink_arguments(exprs: Iterable[sp.Expr]) -> list[sp.Expr]:
    """Expressions whose zeros are the switches (kinks, jumps) of ``exprs``.

    ``abs(a)``, ``sign(a)``, ``Heaviside(a)`` switch at ``a = 0``;
    ``max(a, b)`` and ``min(a, b)`` (``relu`` is ``max(0, a)``) at ``a = b``.
    """
    found: list[sp.Expr] = []
    for expr in exprs:
        for node in sp.preorder_traversal(expr):
            if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta)):
                found.append(node.args[0])
            elif isinstance(node, (sp.Max, sp.Min)):
                args = node.args
                found += [a - b for i, a in enumerate(args) for b in args[i + 1:]]
    unique = []
    for arg in found:
        if arg.free_symbols and arg not in unique:
            unique.append(arg)
    return unique


def off_switches(expr: sp.Expr) -> sp.Expr:
    """``expr`` with ``DiracDelta`` terms set to 0, their value off the switch set.

    Derivatives of kinked functions contain ``DiracDelta(a)`` (the derivative of
    ``Heaviside(a)``), which is 0 wherever ``a ≠ 0`` and which mpmath cannot
    evaluate; evidence points stay off the switches (:data:`KINK_MARGIN`).
    """
    if not expr.has(sp.DiracDelta):
        return expr
    return expr.replace(sp.DiracDelta, lambda *args: sp.S.Zero)


def _random_value(rng: random.Random, widen: int) -> sp.Rational:
    """A 12-digit decimal, log-uniform in magnitude over 10^±(1+widen), random sign."""
    magnitude = 10 ** rng.uniform(-1 - widen, 1 + widen)
    sign = -1 if rng.random() < 0.5 else 1
    return sp.Rational(f"{sign * magnitude:.12g}")


def draw_points(variables: Sequence[sp.Symbol], seed: int = 0, small_fractions: bool = True
                ) -> Iterator[dict[sp.Symbol, sp.Rational]]:
    """Reproducible candidate points: small fractions first, then random decimals.

    The first candidates give the variables small fractions (1/2, 3/2, 2,
    −1/2, …; different ones per variable), so a counterexample is readable.
    The random part widens its range every 50 candidates (10^±1, 10^±2, …)
    so that domains far from the origin (``sqrt(x - 40)``) are found too.
    ``small_fractions=False`` starts with the random decimals.
    """
    rng = random.Random(seed)
    count = 0 if small_fractions else _NICE_POINTS
    while True:
        if count < _NICE_POINTS:
            # variable j of candidate i: a different small fraction per variable
            point = {v: _NICE_VALUES[(count + 3 * j) % len(_NICE_VALUES)]
                     for j, v in enumerate(variables)}
        else:
            widen = min((count - _NICE_POINTS) // 50, 4)
            point = {v: _random_value(rng, widen) for v in variables}
        count += 1
        yield point


def _value(compiled: CompiledFormula, point, wp: int):
    """The real value at ``wp`` digits, or None where undefined, infinite or complex."""
    with mpmath.workdps(wp):
        try:
            return evaluate_real(compiled, [to_mpf(point[v], wp) for v in compiled.variables], "")
        except DomainError:
            return None
        except (TypeError, ArithmeticError):
            return None


@dataclass(frozen=True)
class _Evidence:
    points: int
    counterexample: dict[sp.Symbol, sp.Rational] | None = None
    claim_value: mpmath.mpf | None = None
    exact_value: mpmath.mpf | None = None


def _differs(c_low, c_high, e_low, e_high, dps: int) -> bool:
    """Do the two sides differ by more than ``10⁻ᵈᵖˢ`` of the larger one?

    The sides are given at two working precisions (both far above ``dps``).
    A true difference is the same at both; rounding noise (both sides may be
    cancelling expressions whose value is 0, evaluated as ``≈ 10⁻ʷᵖ``) is not,
    so a difference that changes between the precisions is no evidence.
    """
    with mpmath.workdps(2 * dps + 4 * GUARD_DIGITS):
        low, high = abs(c_low - e_low), abs(c_high - e_high)
        if high == 0 or low == 0:
            return False
        scale = max(abs(c_high), abs(e_high))
        stable = abs(low - high) <= high * mpmath.mpf("1e-3")
        return stable and high > scale * mpmath.mpf(10) ** (-dps)


def _numeric_evidence(claim: sp.Expr, exact: sp.Expr, domain: Sequence[sp.Expr], variables,
                      dps: int, points: int, seed: int, small_fractions: bool) -> _Evidence:
    """Evaluate both sides at ``points`` points of the domain; stop at the first difference.

    Domain and kink tests run at ``dps + GUARD_DIGITS`` digits, the comparison
    at ``2·dps + 2·GUARD_DIGITS`` and ``GUARD_DIGITS`` more, so a difference
    survives up to ``dps + GUARD_DIGITS`` digits of cancellation inside either side.
    A claim undefined at a random point (where the exact side is defined) is a
    counterexample; at one of the small-fraction points it may be a removable
    singularity (``(x**2 − 1)/(x − 1)`` at 1), so that point is only skipped.
    Points where a value passes the evaluation limits (``exp(exp(x))`` at
    x = 100, see ``Limits.max_value_digits``) are skipped too.
    """
    wp = dps + GUARD_DIGITS
    wp_low = 2 * dps + 2 * GUARD_DIGITS
    claim_f = compile_formula(off_switches(claim), variables)
    exact_f = compile_formula(off_switches(exact), variables)
    guards = [compile_formula(off_switches(d), variables) for d in domain]
    kinks = [compile_formula(k, variables) for k in kink_arguments([claim, exact, *domain])]

    def sides(point):
        """``(claim, exact)`` at two precisions, or None if the point is not usable."""
        if any(_value(g, point, wp) is None for g in guards):
            return None
        switches = [_value(k, point, wp) for k in kinks]
        if any(s is None or abs(s) < KINK_MARGIN for s in switches):
            return None
        exact_values = [_value(exact_f, point, prec) for prec in (wp_low, wp_low + GUARD_DIGITS)]
        if None in exact_values:
            return None
        return [_value(claim_f, point, prec) for prec in (wp_low, wp_low + GUARD_DIGITS)], \
            exact_values

    tested = 0
    candidates = draw_points(variables, seed, small_fractions)
    nice = _NICE_POINTS if small_fractions else 0
    for index in range(points * _ATTEMPTS_PER_POINT):
        point = next(candidates)
        try:
            values = sides(point)
        except LimitExceeded:
            continue
        if values is None:
            continue
        (c_low, c_high), (e_low, e_high) = values
        if c_low is None or c_high is None:
            if index < nice:
                continue
            with mpmath.workdps(dps):
                return _Evidence(tested + 1, point, None, +e_high)
        tested += 1
        if _differs(c_low, c_high, e_low, e_high, dps):
            with mpmath.workdps(dps):
                return _Evidence(tested, point, +c_high, +e_high)
        if tested >= points:
            break
    if tested == 0:
        names = ", ".join(v.name for v in variables)
        raise DomainError(f"found no point where the formula and its derivative are real, "
                          f"defined and within the evaluation limits (tried "
                          f"{points * _ATTEMPTS_PER_POINT} points in {names})")
    return _Evidence(tested)


# --------------------------------------------------------------------------

def _as_expr(value, what: str) -> sp.Expr:
    if isinstance(value, sp.Expr):
        return value
    if isinstance(value, (int, sp.Rational)) and not isinstance(value, bool):
        return sp.Integer(value) if isinstance(value, int) else value
    raise DerivauditError(f"{what} must be a sympy expression, not {type(value).__name__}")


def compare_expressions(claim, exact, *, domain: Sequence[sp.Expr] = (),
                        limits: Limits = DEFAULT_LIMITS, dps: int = 50, points: int = 24,
                        seed: int = 0, small_fractions: bool = True) -> Comparison:
    """Decide whether ``claim`` and ``exact`` are the same function.

    Parameters
    ----------
    claim, exact : sympy.Expr
        The two sides (typically a hand-derived and the exact derivative).
    domain : expressions that must be real and finite at every evidence
        point (typically the original formula); the exact side always must.
    limits : ``limits.simplify_seconds`` bounds the symbolic work.
    dps : significant digits to which the sides must agree at each point.
    points : number of evidence points.
    seed : seed of the reproducible point sequence.
    small_fractions : try small fractions (x = 1/2, 3/2, …) first, for a
        readable counterexample; False uses random decimals only.

    Returns a :class:`Comparison`; see the module docstring for the method.
    Raises :class:`~derivaudit.errors.DomainError` when no point of the
    domain can be found.
    """
    claim, exact = _as_expr(claim, "claim"), _as_expr(exact, "exact")
    domain = [_as_expr(d, "domain expression") for d in domain]
    if not isinstance(points, int) or points < 1:
        raise DerivauditError(f"points must be a whole number ≥ 1, not {points!r}")
    difference = claim - exact
    variables = tuple(free_variables(sp.Add(claim, exact, *domain, evaluate=False)))
    evidence = _numeric_evidence(claim, exact, domain, variables, dps,
                                 points if variables else 1, seed, small_fractions)
    if evidence.counterexample is not None:
        # only for display: the cheap forms (factor among them) without simplify
        shown = (_symbolic(difference, limits.simplify_seconds, use_simplify=False).best
                 if difference != 0 else difference)
        if shown == 0:  # simplification "proved" what a point refutes: show the raw difference
            shown = difference
        return Comparison("different", shown,
                          {v.name: value for v, value in evidence.counterexample.items()},
                          evidence.claim_value, evidence.exact_value, evidence.points,
                          dps, f"counterexample: evidence point {evidence.points} differs "
                               f"beyond {dps} digits")
    evidence_text = (f"equal to {dps} digits at {evidence.points} random points of the domain"
                     if variables else f"equal to {dps} digits")
    if difference == 0:
        return Comparison("proved", difference, None, None, None, evidence.points, dps,
                          "identical after sympy's automatic simplification")
    symbolic = _symbolic(difference, limits.simplify_seconds,
                         positive=positive_on_domain([*domain, exact]))
    if symbolic.proved_by is not None:
        return Comparison("proved", sp.Integer(0), None, None, None, evidence.points, dps,
                          symbolic.proved_by)
    why = ("simplification did not reach 0" if symbolic.finished
           else f"simplification gave up after {limits.simplify_seconds:g} s")
    return Comparison("numerical", symbolic.best, None, None, None, evidence.points, dps,
                      f"{evidence_text}; {why}")
