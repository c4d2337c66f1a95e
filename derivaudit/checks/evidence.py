"""Evidence at a point: one-sided derivatives at a kink, values resolved to
``dps`` digits, and the finite-difference table that shows where the
differences converge (to the exact value, not to a wrong claim).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import mpmath
import pandas as pd
import sympy as sp

from derivaudit.checks.equivalence import Comparison, compare_expressions, off_switches
from derivaudit.checks.proof import kink_arguments
from derivaudit.checks.results import OneSided
from derivaudit.core.balls import ball_precision, compile_balls, digits_to_bits
from derivaudit.core.ball_steps import to_mpf
from derivaudit.core.certify import rounded_value
from derivaudit.core.quotients import BallSamples, quotient_ball
from derivaudit.core.stencils import backward, forward, stencil
from derivaudit.core.symbolic import as_symbol, derivative
from derivaudit.errors import DomainError, LimitExceeded
from derivaudit.limits import Limits
from derivaudit.core.numeric import resolved_difference
from derivaudit.studies.inputs import parse_eps
from derivaudit.studies.sweep import study
from derivaudit.studies.result import StudyResult

__all__ = ["EVIDENCE_EPS", "NoEvidence", "one_sided", "resolved_value", "value_at", "evidence",
           "evidence_off_the_point"]

#: steps of the evidence table; smaller ranges are tried near a domain edge
EVIDENCE_EPS = ("1e-1:1e-6:6", "1e-3:1e-8:6", "1e-6:1e-11:6")
#: steps of the one-sided differences that decide differentiability at a point
_ONE_SIDED_EPS = tuple(sp.Rational(1, 10 ** k) for k in (4, 6, 8, 10))


def one_sided(f: sp.Expr, var: sp.Symbol, order: int, point: dict[sp.Symbol, sp.Expr],
               dps: int, limits: Limits) -> OneSided | None:
    """Left and right derivatives where a kink switches at the point, else None.

    Only examined when a kink argument (of ``abs``, ``max``, …) is 0 at the
    point.  Then each exact derivative ``g = f⁽ᵏ⁾``, k = 0 … order−1, is
    differentiated once more by backward and forward differences at
    ε = 10⁻⁴ … 10⁻¹⁰ (exact arithmetic, so only truncation error, O(ε)).
    ``g`` is differentiable when both sequences settle (last change below
    10⁻³ relative) on the same value (to 10⁻⁶ relative); the first ``g`` that
    is not makes the point non-differentiable for this order.
    """
    variables = tuple(point)
    derivatives = [derivative(f, var, k, limits) for k in range(order)]
    switching = False
    for kink in kink_arguments(derivatives):
        # exactly 0 (resolved like every value here): x = 1e-20 is not relu's switch
        if value_at(kink, point, dps, limits) == 0:
            switching = True
    if not switching:
        return None
    bits = digits_to_bits(dps + 30)
    for k, g in enumerate(derivatives):
        # balls, not generated code: no user variable name can collide with anything
        samples = BallSamples(compile_balls(off_switches(g), variables), (var,), point, limits)
        sides = []
        for st in (backward(1), forward(1)):
            values = _quotients(samples, st, bits)
            if values is None:
                sides.append(None)
                continue
            with mpmath.workdps(dps + 30):
                last, before = values[-1], values[-2]
                settled = abs(last - before) <= mpmath.mpf("1e-3") * max(1, abs(last))
                sides.append(+last if settled else None)
        left, right = sides
        what = "f" if k == 0 else f"d^{k}f/d{var.name}^{k}" if k > 1 else f"df/d{var.name}"
        if left is None or right is None:
            side = {(True, True): "both sides", (True, False): "left",
                    (False, True): "right"}[(left is None, right is None)]
            return OneSided(left, right, f"the one-sided difference quotients of {what} diverge "
                                         f"or are undefined ({side})")
        with mpmath.workdps(dps):
            if abs(left - right) > mpmath.mpf("1e-6") * max(1, abs(left), abs(right)):
                return OneSided(left, right, f"the left and right derivatives of {what} differ")
    return None


def _quotients(samples: BallSamples, st, bits: int) -> list | None:
    """The difference quotients at :data:`_ONE_SIDED_EPS` (midpoints), None off the domain."""
    values = []
    with ball_precision(bits):
        for eps in _ONE_SIDED_EPS:
            try:
                value, _ = quotient_ball(samples, st, eps, bits)
            except DomainError:
                return None
            if value is None:
                return None
            values.append(to_mpf(value))
    return values


def resolved_value(expr: sp.Expr, point, dps: int, limits: Limits) -> mpmath.mpf:
    """``expr`` at the exact point, correctly rounded to ``dps`` digits (DomainError where
    undefined): the number a report prints (:func:`~derivaudit.core.certify.rounded_value`).

    A value proved below ``10⁻²ᵈᵖˢ`` in magnitude (a zero no precision can
    certify relatively, such as ``log(6) − log(2) − log(3)``) counts as 0.
    """
    formula = compile_balls(off_switches(expr), tuple(point))
    return rounded_value(formula, point, dps, limits=limits, resolution=sp.Rational(1, 10 ** (2 * dps)))


def value_at(expr: sp.Expr, point, dps: int, limits: Limits) -> mpmath.mpf | None:
    """Like :func:`resolved_value`, None where undefined or not real."""
    try:
        return resolved_value(expr, point, dps, limits)
    except DomainError:
        return None


class NoEvidence(Exception):
    """No evidence table at a point; the message says why."""


def evidence(f: sp.Expr, var: sp.Symbol, order: int, point: dict[sp.Symbol, sp.Expr],
              claim_value: mpmath.mpf | None, dps: int, limits: Limits, claim: sp.Expr | None = None) -> StudyResult:
    """Centered and forward sweeps at ``point`` with the claim's value and distance.

    Steps shrink (:data:`EVIDENCE_EPS`) until the stencils stay in the domain.
    Raises :class:`NoEvidence` when there can be no table at the point.
    With the ``claim`` itself, ``distance_to_claim`` is ``|D_ε f − claim|``
    correctly rounded (:func:`_distances`); without it, the difference of the
    two rounded columns.
    """
    if derivative(f, var, order, limits).has(sp.DiracDelta):
        # study evaluates the exact derivative, and mpmath has no DiracDelta
        raise NoEvidence("no evidence table: the exact derivative contains DiracDelta")
    at = {s.name: v for s, v in point.items()}
    for eps in EVIDENCE_EPS:
        try:
            result = study(f, wrt=var.name, at=at, eps=eps, schemes=("centered", "forward"),
                          order=order, dps=dps, limits=limits)
            break
        except DomainError:
            continue
        except LimitExceeded as exc:
            # a value at the point beyond the precision or magnitude limits
            raise NoEvidence(f"no evidence table at the point: {exc}") from None
    else:
        raise NoEvidence("no evidence table: every step tried leaves the domain near the point")
    table = result.table
    with mpmath.workdps(dps):
        if claim_value is None:
            table["claim"] = mpmath.mpf("nan")
            table["distance_to_claim"] = mpmath.mpf("nan")
        else:
            table["claim"] = [+claim_value] * len(table)
            rounded = [abs(resolved_difference(a, claim_value, dps)) for a in table["approx"]]
            if claim is not None:
                rounded = _distances(f, var, order, point, claim, claim_value, parse_eps(eps), table, rounded,
                                     dps, limits)
            table["distance_to_claim"] = rounded
    return result


def _distances(f, var, order, point, claim, claim_value, steps, table, rounded, dps: int, limits: Limits) -> list:
    """``|D_ε f − claim|`` at each row of ``table``, the correctly rounded ``dps``-digit decimal
    of its ball (:func:`~derivaudit.core.certify.rounded_value`), as every printed number.

    ``D_ε f = Σ wᵢ f(x + oᵢε) / εᵈ`` and the claim are one formula in ``x`` and ``ε``,
    evaluated at the exact point and step (``steps``, the study's exact rationals): the
    subtraction cancels no digit, unlike the difference of the two rounded columns
    (``rounded``, kept for a row the balls cannot resolve).  A distance proved below
    ``10⁻ᵈᵖˢ·|claim|`` reads 0, as the study's errors do.
    """
    h = sp.Dummy("h", positive=True)
    variables = (*point, h)
    resolution = abs(claim_value) * mpmath.mpf(10) ** -dps if claim_value else mpmath.mpf(10) ** (-2 * dps)
    compiled, out = {}, []
    for scheme, eps, fallback in zip(table["scheme"], table["eps"], rounded):
        if scheme not in compiled:
            terms = stencil(scheme, order).terms()
            quotient = sp.Add(*[w * f.xreplace({var: var + o * h}) for o, w in terms]) / h ** order
            compiled[scheme] = compile_balls(quotient - off_switches(claim), variables)
        step = min(steps, key=lambda r: abs(mpmath.mpf(r.p) / r.q - eps))   # the row's exact step
        try:
            out.append(abs(rounded_value(compiled[scheme], {**point, h: step}, dps, limits=limits,
                                         resolution=resolution)))
        except (DomainError, LimitExceeded):
            out.append(fallback)
    return out


def _symbol_point(f: sp.Expr, point: Mapping[str, sp.Expr]) -> dict[sp.Symbol, sp.Expr]:
    by_symbol = {as_symbol(name): value for name, value in point.items()}
    return {v: by_symbol[v] for v in sorted(f.free_symbols, key=lambda s: s.name)}


def evidence_off_the_point(f: sp.Expr, var: sp.Symbol, order: int, claim: sp.Expr,
                            exact: sp.Expr, comparison: Comparison, dps: int, limits: Limits,
                            points: int, seed: int):
    """The evidence at the counterexample: ``(point, study, note)`` (a StudyResult).

    When the study cannot give evidence at the first counterexample (a small
    fraction; e.g. a value there is beyond the limits), a random
    counterexample is used instead.
    """
    point = _symbol_point(f, comparison.counterexample)
    try:
        return point, evidence(f, var, order, point, comparison.claim_value, dps, limits, claim), None
    except NoEvidence as exc:
        note = str(exc)
    other = compare_expressions(claim, exact, domain=[f], dps=dps, points=points, seed=seed,
                                small_fractions=False,
                                limits=dataclasses.replace(limits, simplify_seconds=0))
    if other.counterexample is not None:
        moved = _symbol_point(f, other.counterexample)
        try:
            return moved, evidence(f, var, order, moved, other.claim_value, dps, limits, claim), None
        except NoEvidence:
            pass
    return point, None, note

