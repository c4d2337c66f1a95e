"""The witness search: certified points where a claim and the exact derivative differ.

A claim is never called correct on the strength of a few points near the
origin.  :class:`WitnessSearch` evaluates ``claim − exact`` with certified
ball arithmetic (:mod:`derivaudit.core.certify`) at a planned sequence of
points, and each point ends in one of:

- **witness** — the ball of ``claim − exact`` excludes 0 (at any precision
  up to :data:`SEARCH_DIGITS`), or the claim is undefined where the exact
  derivative is defined: the claim is wrong, and the point proves it;
- **agreement** — claim and exact value are both certified to ``dps``
  digits and their difference is proved below ``10⁻ᵈᵖˢ`` of the larger;
- **unresolved** — a value could not be certified within the precision cap
  (the point is recorded and reported, never counted as agreement);
- **skipped** — outside the domain (the formula or the exact derivative is
  undefined or not real there) or exactly on a switch of measure zero (a
  kink, where the derivative does not exist); a region where a kink argument
  vanishes identically is judged like any other point.

The points (:func:`plan_points`), in order:

1. small fractions (``x = 1/2, 3/2, …``), so that a counterexample reads well;
2. both sides of every **switch**: the zeros of kink arguments (``abs``,
   ``max``/``min``/``relu``, ``sign``, ``Heaviside``) and of branch arguments
   (``log``, fractional powers, denominators, ``asin``/``acos``/``atanh`` at
   ±1), wherever they lie — solved exactly when linear in the variable, else
   found by sign changes on a logarithmic grid and bisection — at offsets
   ``10⁻⁶, 10⁻², 1`` times ``max(1, |root|)``;
3. **magnitudes** ``±10ᵏ`` for ``k`` from −3 to 3 and around the scale of
   every constant of the formula and claim (``100``, ``1e-60``, ``10**200``:
   ``k``, ``k/2``, ``k ± 1``), one variable at a time;
4. random 12-digit decimals, log-uniform over a widening range.

A difference too small for the working precision is pursued when the
shortest symbolic form of ``claim − exact`` (the ``hint``) is provably
non-zero at the point: the raw difference is then evaluated at the precision
the hint's magnitude implies.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property, lru_cache

import mpmath
import sympy as sp

from derivaudit.core.balls import compile_balls
from derivaudit.core.certify import certified_value, excludes_zero
from derivaudit.core.piecewise import Branch
from derivaudit.lang.functions import Step
from derivaudit.errors import DomainError, LimitExceeded
from derivaudit.lang.parse import free_variables
from derivaudit.limits import Limits

__all__ = ["is_total", "SEARCH_DIGITS", "PointResult", "SearchResult", "WitnessSearch", "draw_points",
           "plan_points", "switch_arguments", "constant_scales"]

#: highest precision (decimal digits) a value is pursued to before a point is unresolved
#: (``8·dps`` when that is more; a difference a simplified form shows non-zero is
#: pursued up to ``Limits.max_dps``)
SEARCH_DIGITS = 2_000
#: a phase of the search stops after this many unresolved points (each costs the full precision)
MAX_UNRESOLVED = 12
#: offsets of the points on each side of a switch, times ``max(1, |root|)``
SIDE_OFFSETS = (sp.Integer(1), sp.Rational(1, 100), sp.Rational(1, 10 ** 6))
#: magnitudes 10^k always tried
BASE_POWERS = tuple(range(-3, 4))
#: most planned points per variable beyond the small fractions
_MAX_PLANNED = 400

#: how many of the first candidate points use small fractions
NICE_POINTS = 6
_NICE_VALUES = [sp.Rational(p, q) for p, q in
                [(1, 2), (3, 2), (2, 1), (-1, 2), (1, 1), (-3, 2), (3, 4), (5, 2), (-2, 1), (1, 3)]]


# --------------------------------------------------------------------------
# the plan

def _random_value(rng: random.Random, widen: int) -> sp.Rational:
    """A 12-digit decimal, log-uniform in magnitude over 10^±(1+widen), random sign."""
    magnitude = 10 ** rng.uniform(-1 - widen, 1 + widen)
    sign = -1 if rng.random() < 0.5 else 1
    return sp.Rational(f"{sign * magnitude:.12g}")


def draw_points(variables: Sequence[sp.Symbol], seed: int = 0, small_fractions: bool = True,
                widest: int = 4) -> Iterator[dict[sp.Symbol, sp.Rational]]:
    """Reproducible candidate points: small fractions first, then random decimals.

    The first candidates give the variables small fractions (1/2, 3/2, 2,
    −1/2, …; different ones per variable), so a counterexample is readable.
    The random part widens its range every 50 candidates (10^±1, 10^±2, …,
    up to 10^±(1 + ``widest``)).  ``small_fractions=False`` starts with the
    random decimals.
    """
    rng = random.Random(seed)
    count = 0 if small_fractions else NICE_POINTS
    while True:
        if count < NICE_POINTS:
            point = {v: _NICE_VALUES[(count + 3 * j) % len(_NICE_VALUES)]
                     for j, v in enumerate(variables)}
        else:
            widen = min((count - NICE_POINTS) // 50, widest)
            point = {v: _random_value(rng, widen) for v in variables}
        count += 1
        yield point


def switch_arguments(exprs: Sequence[sp.Expr]) -> list[sp.Expr]:
    """Expressions whose zeros are kinks, jumps, poles or branch points of ``exprs``.

    Kinks: the arguments of ``abs``, ``sign``, ``Heaviside``, ``DiracDelta``
    and the pairwise differences of ``max``/``min`` arguments.  Branch points
    and poles: the arguments of ``log``, the bases of fractional or negative
    powers, and ``a ∓ 1`` for ``asin``, ``acos``, ``atanh``, ``acosh``.
    """
    found: list[sp.Expr] = []
    for expr in exprs:
        for node in sp.preorder_traversal(expr):
            if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta, sp.log, Branch, Step)):
                found.append(node.args[0])
            elif isinstance(node, (sp.Max, sp.Min)):
                args = node.args
                found += [a - b for i, a in enumerate(args) for b in args[i + 1:]]
            elif isinstance(node, sp.Pow) and not (node.exp.is_Integer and node.exp > 0):
                found.append(node.base)
            elif isinstance(node, (sp.asin, sp.acos, sp.atanh, sp.acosh)):
                found += [node.args[0] - 1, node.args[0] + 1]
    unique = []
    for arg in found:
        if arg.free_symbols and arg not in unique:
            unique.append(arg)
    return unique


def constant_scales(exprs: Sequence[sp.Expr]) -> list[int]:
    """Decimal exponents ``k`` the constants of ``exprs`` suggest: ``k``, ``k/2``, ``k ± 1``.

    >>> x = sp.Symbol("x")
    >>> constant_scales([sp.Max(x, 100)])
    [-3, -2, -1, 0, 1, 2, 3]
    >>> constant_scales([sp.sqrt(x - 10**6)])[-3:]
    [5, 6, 7]
    """
    powers = set(BASE_POWERS)
    for expr in exprs:
        for atom in expr.atoms(sp.Number):
            if atom.is_zero or not atom.is_finite:
                continue
            k = int(math.floor(float(sp.log(abs(atom), 10).evalf(15))))
            for p in (k, k // 2, k - 1, k + 1):
                if abs(p) <= 300:
                    powers.add(p)
    return sorted(powers)


def _linear_root(argument: sp.Expr, v: sp.Symbol, point) -> sp.Rational | None:
    """The zero in ``v`` of an argument linear in ``v`` (others at ``point``), as a
    rational (exact, or to 40 digits for an irrational root such as ``pi``)."""
    a = argument.xreplace({s: point[s] for s in argument.free_symbols if s != v})
    if a.free_symbols != {v}:
        return None
    c = sp.diff(a, v)
    if not c.is_number or c == 0:
        return None
    root = -a.xreplace({v: sp.Integer(0)}) / c
    if root.is_Rational:
        return root
    if not root.is_number or root.free_symbols:
        return None
    value = root.evalf(40)
    if not value.is_real or not value.is_finite:
        return None
    return sp.Rational(str(value))


def _scan_roots(argument: sp.Expr, v: sp.Symbol, point, powers: Sequence[int],
                limit: int = 8) -> list[sp.Rational]:
    """Approximate zeros (sign changes) of ``argument`` along ``v``, as exact rationals.

    The argument is evaluated in balls on the grid ``±m·10ᵏ`` (m = 1, 2, 5)
    and each certified sign change is bisected 60 times.
    """
    others = {s: point[s] for s in argument.free_symbols if s != v}
    a = argument.xreplace(others)
    if a.free_symbols != {v}:
        return []
    formula = compile_balls(a, (v,))
    grid = sorted({sp.Integer(s) * m * sp.Integer(10) ** k for k in powers for m in (1, 2, 5)
                   for s in (1, -1)} | {sp.Integer(0)})

    def sign(x):
        try:
            ball = formula.at([x], 128)
        except (DomainError, LimitExceeded, ArithmeticError, ValueError):
            return None
        if not ball.is_finite() or ball.contains(0):
            return 0 if ball.is_finite() else None
        return 1 if ball > 0 else -1

    signs = [sign(x) for x in grid]
    # a grid point where the ball holds 0 may be the switch itself
    roots: list[sp.Rational] = [x for x, s in zip(grid, signs) if s == 0][:limit]
    for (x0, s0), (x1, s1) in zip(zip(grid, signs), zip(grid[1:], signs[1:])):
        if s0 and s1 and s0 != s1:
            lo, hi = x0, x1
            for _ in range(60):
                mid = (lo + hi) / 2
                s = sign(mid)
                if not s:
                    break
                lo, hi = (mid, hi) if s == s0 else (lo, mid)
            roots.append((lo + hi) / 2)
            if len(roots) >= limit:
                break
    return roots


def _sides(root: sp.Rational) -> list[sp.Rational]:
    scale = max(sp.Integer(1), abs(root))
    # offsets scaled to a power of ten so that the points print as short decimals
    unit = sp.Integer(10) ** int(math.floor(math.log10(float(scale)))) if scale > 1 else 1
    return [root + sign * d * unit for d in SIDE_OFFSETS for sign in (1, -1)]


def plan_points(moving: Sequence[sp.Symbol], switches: Sequence[sp.Expr], powers: Sequence[int],
                base: dict) -> Iterator[dict[sp.Symbol, sp.Rational]]:
    """Structured points around ``base``: both sides of every switch, then magnitudes.

    Only the ``moving`` variables (those of the difference and of the
    switches) are varied, one at a time; the others keep their base values.
    """
    for v in moving:
        count = 0
        for argument in switches:
            if v not in argument.free_symbols:
                continue
            root = _linear_root(argument, v, base)
            roots = [root] if root is not None else _scan_roots(argument, v, base, powers)
            for r in roots:
                for value in _sides(r):
                    count += 1
                    yield {**base, v: value}
        for k in powers:
            for sign in (1, -1):
                for m in (1, 3):
                    count += 1
                    if count > _MAX_PLANNED:
                        break
                    yield {**base, v: sign * m * sp.Integer(10) ** k if k >= 0
                           else sign * sp.Rational(m, 10 ** -k)}


# --------------------------------------------------------------------------
# judging one point

@dataclass(frozen=True)
class PointResult:
    """What one point showed: ``kind`` is witness, agreement, unresolved or skipped."""

    kind: str
    point: dict
    claim: mpmath.mpf | None = None
    exact: mpmath.mpf | None = None
    difference: mpmath.mpf | None = None
    reason: str = ""
    #: unresolved although a simplified difference is provably non-zero there
    hinted: bool = False


@dataclass
class SearchResult:
    """The outcome of a witness search (cumulative over its phases)."""

    witness: PointResult | None = None
    agreements: int = 0
    tried: int = 0
    unresolved: list = field(default_factory=list)
    #: per variable, the smallest and largest value at an agreement point
    region: dict = field(default_factory=dict)
    out_of_time: bool = False
    digits: int = 0

    def agree_at(self, point) -> None:
        self.agreements += 1
        for v, value in point.items():
            lo, hi = self.region.get(v, (value, value))
            # compared as Python fractions: sympy's Rational comparison is slow in bulk
            self.region[v] = (value if Fraction(value.p, value.q) < Fraction(lo.p, lo.q) else lo,
                              value if Fraction(value.p, value.q) > Fraction(hi.p, hi.q) else hi)

    def region_text(self) -> str:
        def show(value):
            return mpmath.nstr(mpmath.mpf(value.p) / value.q, 6) if not value.is_Integer else str(value)
        return ", ".join(f"{v.name} in [{show(lo)}, {show(hi)}]"
                         for v, (lo, hi) in sorted(self.region.items(), key=lambda item: item[0].name))


class WitnessSearch:
    """Certified comparison of ``claim`` and ``exact`` point by point (see the module doc)."""

    def __init__(self, claim: sp.Expr, exact: sp.Expr, domain: Sequence[sp.Expr],
                 variables: Sequence[sp.Symbol], dps: int, limits: Limits, deadline: float | None):
        self.variables = tuple(variables)
        self.dps = dps
        self.limits = limits
        self.deadline = deadline
        self.claim_expr, self.exact_expr, self.domain = claim, exact, tuple(domain)
        #: the variables whose region the result states
        self.shown = set(claim.free_symbols | exact.free_symbols) or set(self.variables)
        self.hints: list = []
        self.result = SearchResult()
        self.search_limits = Limits(**{**vars(limits),
                                       "max_dps": min(limits.max_dps, max(SEARCH_DIGITS, 8 * dps))})

    # compiled on first use: a component judged after the check's deadline compiles nothing
    @cached_property
    def claim(self):
        return _compiled(self.claim_expr)

    @cached_property
    def exact(self):
        return _compiled(self.exact_expr)

    @cached_property
    def difference(self):
        return _compiled(self.claim_expr - self.exact_expr)

    @cached_property
    def guards(self) -> list:
        # a domain expression defined everywhere (a polynomial, sin, exp, ...) needs no test
        return [_compiled(d) for d in self.domain if not is_total(d)]

    @cached_property
    def kinks(self) -> list:
        return [_compiled(k) for k in switch_arguments([self.claim_expr, self.exact_expr])
                if not isinstance(k, sp.Number)]

    def set_hint(self, form: sp.Expr) -> None:
        """A simplified form of ``claim − exact``; where it is provably non-zero the raw
        difference is pursued to the precision its magnitude implies."""
        if form != 0 and form != self.claim_expr - self.exact_expr and not form.has(sp.nan, sp.zoo):
            try:
                self.hints.append(_compiled(form))
            except DomainError:
                pass

    def expired(self) -> bool:
        """True (and recorded in the result) once the deadline has passed."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.result.out_of_time = True
        return self.result.out_of_time

    def judge(self, point: dict, removable_ok: bool = False) -> PointResult:
        """Evaluate one point; see :class:`PointResult`."""
        self.result.tried += 1
        outcome = self._judge(point, removable_ok)
        if outcome.kind == "agreement":
            self.result.agree_at({v: value for v, value in point.items() if v in self.shown})
        elif outcome.kind == "unresolved":
            self.result.unresolved.append(outcome)
        elif outcome.kind == "witness" and self.result.witness is None:
            self.result.witness = outcome
        return outcome

    def _judge(self, point: dict, removable_ok: bool) -> PointResult:
        limits, dps = self.search_limits, self.dps
        try:
            for guard in self.guards:
                _defined(guard, tuple(point[v] for v in guard.variables), limits)
            for kink in self.kinks:
                if not excludes_zero(kink, _on(kink, point), limits=limits, max_digits=dps) \
                        and not _zero_around(kink, point, limits):
                    return PointResult("skipped", point, reason="on a switch")
        except DomainError:
            return PointResult("skipped", point, reason="outside the domain")
        except LimitExceeded as exc:
            return PointResult("unresolved", point, reason=f"the formula cannot be resolved: {exc}")
        try:
            exact = certified_value(self.exact, _on(self.exact, point), dps, limits=limits,
                                    resolution=sp.Rational(1, 10 ** (3 * dps)))
        except DomainError:
            return PointResult("skipped", point, reason="the exact derivative is undefined")
        except LimitExceeded as exc:
            return PointResult("unresolved", point, reason=f"the exact derivative cannot be resolved: {exc}")
        try:
            claim = certified_value(self.claim, _on(self.claim, point), dps, limits=limits,
                                    resolution=sp.Rational(1, 10 ** (3 * dps)))
        except DomainError:
            if removable_ok:
                return PointResult("skipped", point, reason="the claim is undefined (removable?)")
            return PointResult("witness", point, None, exact.mid, None,
                               "the claim is undefined or not real where the exact derivative is defined")
        except LimitExceeded as exc:
            return PointResult("unresolved", point, None, exact.mid, None,
                               f"the claim cannot be resolved to {dps} digits: {exc}")
        return self._compare(point, claim, exact)

    def _compare(self, point: dict, claim, exact) -> PointResult:
        dps, limits = self.dps, self.search_limits
        scale = max(abs(claim.mid), abs(exact.mid))
        resolution = (sp.Float(scale, 30) * sp.Rational(1, 10 ** dps)) if scale else sp.Rational(1, 10 ** (3 * dps))
        try:
            difference = certified_value(self.difference, _on(self.difference, point), 2, limits=limits, resolution=resolution)
        except (LimitExceeded, DomainError) as exc:
            return PointResult("unresolved", point, claim.mid, exact.mid, None,
                               f"claim − exact cannot be resolved: {exc}")
        if difference.excludes_zero:
            return PointResult("witness", point, claim.mid, exact.mid, difference.mid,
                               "the ball of claim − exact excludes 0")
        needed = dps + 30
        for hint in self.hints:
            try:
                magnitude = certified_value(hint, _on(hint, point), 2, limits=limits,
                                            resolution=sp.Rational(1, 10 ** SEARCH_DIGITS))
            except (LimitExceeded, DomainError):
                continue
            if magnitude.excludes_zero and not magnitude.below_resolution:
                gap = math.log10(float(scale)) - float(mpmath.log10(abs(magnitude.mid))) if scale else 0
                needed = max(needed, int(gap) + 30)
        try:
            proved = excludes_zero(self.difference, _on(self.difference, point), limits=self.limits, max_digits=needed)
        except (LimitExceeded, DomainError):
            proved = False
        if proved:
            try:
                value = certified_value(self.difference, _on(self.difference, point), 3,
                                        limits=self.limits).mid
            except (LimitExceeded, DomainError):
                value = None  # proved non-zero, but its digits are beyond the limits
            return PointResult("witness", point, claim.mid, exact.mid, value,
                               "the ball of claim − exact excludes 0")
        if needed > self.limits.max_dps:
            return PointResult("unresolved", point, claim.mid, exact.mid, None,
                               f"a simplified form of claim − exact is non-zero here, but the raw "
                               f"difference would need about {needed} digits (Limits.max_dps is "
                               f"{self.limits.max_dps})", hinted=True)
        self.result.digits = max(self.result.digits, dps)
        return PointResult("agreement", point, claim.mid, exact.mid, difference.mid)


#: relative shift that tells a switch surface from a region where a kink argument is 0
_SHIFT = sp.Rational(1, 10 ** 9)


def _zero_around(kink, point: dict, limits: Limits) -> bool:
    """True when the kink argument is exactly 0 also after shifting each of its variables
    by ±10⁻⁹ (relative): the point is inside a region where the argument vanishes
    (``max(100, -x) - 100`` for x > -100), where the derivative formula holds, not on a
    switch of measure zero, which is skipped."""
    here = _on(kink, point)
    for v in kink.variables:
        step = _SHIFT * max(1, abs(here[v]))
        for shifted in (here[v] + step, here[v] - step):
            try:
                if excludes_zero(kink, {**here, v: shifted}, limits=limits, max_digits=30):
                    return False
            except DomainError:
                return False
    return True


@lru_cache(maxsize=8192)
def _defined(guard, values: tuple, limits: Limits) -> None:
    """Raise DomainError (LimitExceeded) where a domain expression is undefined
    (unresolvable); cached, since a gradient's components share the formula and the points."""
    certified_value(guard, dict(zip(guard.variables, values)), 3, limits=limits,
                    resolution=_GUARD_RESOLUTION)


_GUARD_RESOLUTION = sp.Rational(1, 10 ** 30)


def _compiled(expr: sp.Expr):
    """``expr`` compiled over its own variables (a gradient's 300 variables are not all needed)."""
    return compile_balls(expr, tuple(sorted(expr.free_symbols, key=lambda v: v.name)))


def _on(formula, point: dict) -> dict:
    return {v: point[v] for v in formula.variables}


#: functions defined (finite and real) for every real argument
_TOTAL_FUNCTIONS = (sp.exp, sp.sin, sp.cos, sp.sinh, sp.cosh, sp.tanh, sp.atan, sp.Abs, sp.Max, sp.Min,
                    sp.sign, sp.Heaviside, sp.erf, sp.asinh)


def is_total(expr: sp.Expr) -> bool:
    """True when ``expr`` is defined for every real value of its variables (no division,
    root, logarithm or other partial function; magnitudes aside)."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow):
            if not (node.exp.is_Integer and node.exp > 0):
                return False
        elif isinstance(node, sp.Function) and not isinstance(node, _TOTAL_FUNCTIONS):
            return False
    return True


def search_variables(claim: sp.Expr, exact: sp.Expr, domain: Sequence[sp.Expr]) -> tuple:
    """The variables of the comparison, sorted by name."""
    return tuple(free_variables(sp.Add(claim, exact, *domain, evaluate=False)))
