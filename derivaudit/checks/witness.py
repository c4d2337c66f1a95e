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
from derivaudit.core.certify import certified_value, excludes_zero, rounded_value
from derivaudit.core.piecewise import Branch
from derivaudit.lang.functions import Step
from derivaudit.errors import DomainError, LimitExceeded
from derivaudit.lang.parse import free_variables
from derivaudit.checks.regions import (NICE_POINTS, constant_scales, draw_points, plan_points,  # noqa: F401
                                       switch_arguments)
from derivaudit.limits import Limits

__all__ = ["is_total", "SEARCH_DIGITS", "DIFFERENCE_DIGITS", "PointResult", "SearchResult", "WitnessSearch",
           "draw_points", "plan_points", "switch_arguments", "constant_scales"]

#: highest precision (decimal digits) a value is pursued to before a point is unresolved
#: (``8·dps`` when that is more; a difference a simplified form shows non-zero is
#: pursued up to ``Limits.max_dps``)
SEARCH_DIGITS = 2_000
#: a phase of the search stops after this many unresolved points (each costs the full precision)
MAX_UNRESOLVED = 12
#: significant digits of ``claim − exact`` at a witness (its order of magnitude, shown beside
#: the two sides)
DIFFERENCE_DIGITS = 3
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
                 variables: Sequence[sp.Symbol], dps: int, limits: Limits, deadline: float | None,
                 claim_domain: Sequence[sp.Expr] = ()):
        self.variables = tuple(variables)
        self.dps = dps
        self.limits = limits
        self.deadline = deadline
        self.claim_expr, self.exact_expr, self.domain = claim, exact, tuple(domain)
        #: the claim's typed domain (partial sub-formulas sympy's rewriting may have dropped)
        self.claim_domain = tuple(claim_domain)
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
    def claim_guards(self) -> list:
        return [_compiled(d) for d in self.claim_domain]

    @cached_property
    def kinks(self) -> list:
        return [_compiled(k) for k in switch_arguments([self.claim_expr, self.exact_expr])
                if not isinstance(k, sp.Number)]

    def set_hint(self, form: sp.Expr) -> None:
        """A simplified form of ``claim − exact``; where it is provably non-zero the raw
        difference is pursued to the precision its magnitude implies."""
        # a form proved under "x > 0" holds a positive symbol of the same name: the search's own
        # variables are put back, and a form in any other variable is no hint (issue 25 item 6)
        by_name = {v.name: v for v in self.variables}
        if any(s.name not in by_name for s in form.free_symbols):
            return
        form = form.xreplace({s: by_name[s.name] for s in form.free_symbols})
        if form != 0 and form != self.claim_expr - self.exact_expr and not form.has(sp.nan, sp.zoo):
            try:
                self.hints.append(_compiled(form))
            except DomainError:
                pass

    def witness_values(self) -> tuple:
        """``(claim, exact, claim − exact)`` at the witness, each its ball's correctly rounded
        decimal (:func:`~derivaudit.core.certify.rounded_value`): the two sides to ``dps``
        digits, the difference to :data:`DIFFERENCE_DIGITS`.  The search judged points by
        certified midpoints, which can end in the other neighbour of the true last digit;
        these are the numbers a report prints.  None where the witness has none."""
        witness = self.result.witness
        values = []
        for formula, known, digits, limits in (
                (self.claim, witness.claim, self.dps, self.search_limits),
                (self.exact, witness.exact, self.dps, self.search_limits),
                (self.difference, witness.difference, DIFFERENCE_DIGITS, self.limits)):
            try:
                values.append(None if known is None else rounded_value(
                    formula, _on(formula, witness.point), digits, limits=limits,
                    resolution=sp.Rational(1, 10 ** (3 * self.dps)) if digits == self.dps else None))
            except (LimitExceeded, DomainError):  # at the witness, judged already: not expected
                values.append(known)
        return tuple(values)

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
        except DomainError:
            return PointResult("skipped", point, reason="outside the domain")
        except LimitExceeded as exc:
            return PointResult("unresolved", point, reason=f"the formula cannot be resolved: {exc}")
        try:
            for kink in self.kinks:
                if _on_switch(kink, point, limits, dps):
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
            for guard in self.claim_guards:
                _defined(guard, tuple(point[v] for v in guard.variables), limits)
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
                # in mpmath: a scale beyond float range (exp(x) at x = 10**6) is no overflow (issue 25 item 4)
                gap = mpmath.log10(scale) - mpmath.log10(abs(magnitude.mid)) if scale else 0
                needed = max(needed, int(mpmath.ceil(gap)) + 30) if mpmath.isfinite(gap) else needed
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


def _on_switch(kink, point: dict, limits: Limits, dps: int) -> bool:
    """True on a switch of measure zero; a switch argument undefined at the point (``log(x)``
    of a claim at x < 0) is no switch there: the claim and the exact side decide the point
    (a claim undefined where the derivative is defined is a witness, issue 22 item 6)."""
    try:
        return not excludes_zero(kink, _on(kink, point), limits=limits, max_digits=dps) \
            and not _zero_around(kink, point, limits)
    except DomainError:
        return False


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
