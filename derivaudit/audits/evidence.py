"""Finite-difference evidence of a claim, certified, as a gradient check would give it.

At the first evidence point, for each claimed parameter ``P``: a random
direction ``v`` over ``P``'s entries (dyadic, so exact), and the centered
difference of the loss along it, ``D_h = (L(P + h·v) − L(P − h·v)) / 2h``,
at each step ``h`` of the settings, computed on balls
(:class:`~derivaudit.core.reverse.ReverseGraph`'s forward pass): each ``D_h``
is certified, so its digits are the difference quotient's, not rounding's.
Its error against the exact directional derivative ``g·v`` is O(h²).  The
relative difference ``|c·v − D_h| / (|c·v| + |D_h|)`` of the claim ``c``,
its observed order ``log(r₁/r₂)/log(h₁/h₂)`` (2 for a right claim; about 0
for a wrong one), and the same check in float64 arithmetic (53-bit balls'
midpoints, step ``float64_step``) graded with the bands of
:data:`derivaudit.verdicts.GRADIENT_BANDS` are displayed cross-checks: the
verdict rests on the certified comparison of claim and exact gradient
(:mod:`~derivaudit.audits.witness`).  Two forward passes per step and
claim, whatever the number of entries.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import mpmath
import sympy as sp
from flint import arb

from derivaudit.core.ball_steps import to_mpf
from derivaudit.core.balls import ball_precision, digits_to_bits, exact_ball
from derivaudit.core.guards import evaluation_limits
from derivaudit.errors import DerivauditError
from derivaudit.lang.arrays import entries
from derivaudit.lang.parse import parse_constant
from derivaudit.limits import Limits
from derivaudit.studies.orders import observed_order
from derivaudit.verdicts import gradient_band
from derivaudit.audits.points import EVIDENCE_GUARD_DIGITS
from derivaudit.audits.spec import AuditSettings, Model

__all__ = ["FiniteDifferences", "finite_differences", "Convergence", "convergence", "directional",
           "last_steps_order", "grade", "exact_step", "FLOAT64_BITS"]

#: binary digits of float64 arithmetic (the "float64" column: what a float64 gradient check sees)
FLOAT64_BITS = 53
#: the largest float64 number: a value beyond it overflows the float64 check
FLOAT64_MAX = 1.7976931348623157e308
#: the direction's entries are k/_DIRECTION_DENOMINATOR, k in ±1..±_DIRECTION_DENOMINATOR (exact binary)
_DIRECTION_DENOMINATOR = 64


@dataclass
class FiniteDifferences:
    """Centered differences of the loss along one direction of a parameter, at the first point."""

    #: the direction ``v`` (parameter layout, exact dyadic rationals)
    direction: list
    #: ``D_h`` per step of the settings, certified (mpmath numbers at ``dps + 20`` digits; NaN: none)
    by_step: list
    #: ``D_h`` in float64 arithmetic at ``float64_step`` (NaN where float64 fails)
    float64: float


@dataclass
class Convergence:
    """How the centered differences approach the claim and the exact gradient."""

    #: relative difference claim vs centered differences, per step
    rel_by_step: list
    #: observed order of ``rel_by_step`` over the last two steps (NaN below the resolution)
    order: float
    #: observed order of the exact gradient vs centered differences
    fd_order: float
    #: ``|claim − exact|`` per entry at the first point
    entry_abs_difference: list


def exact_step(text: str) -> sp.Rational:
    """A step of the settings (``"1e-3"``) as an exact rational."""
    return sp.Rational(parse_constant(text, what="step"))


def finite_differences(model: Model, engine, point, settings: AuditSettings,
                       limits: Limits) -> dict[str, FiniteDifferences]:
    """Certified centered differences of the loss along a random direction of each claimed parameter."""
    inputs = list(engine.inputs)
    index_of = {s: i for i, s in enumerate(inputs)}
    steps = [exact_step(s) for s in settings.steps]
    wp = settings.dps + EVIDENCE_GUARD_DIGITS
    out = {}
    for p in model.spec.claims:
        idx = [index_of[s] for s in entries(model.param_symbols[p])]
        rng = random.Random(f"{settings.seed}:{p}:direction")
        v = [sp.Rational(rng.choice([-1, 1]) * rng.randint(1, _DIRECTION_DENOMINATOR), _DIRECTION_DENOMINATOR)
             for _ in idx]
        with evaluation_limits(limits, f"the finite differences of the loss for {p}"):
            by_step = [_quotient(engine, point, idx, v, h, digits_to_bits(wp), wp) for h in steps]
            d64 = _quotient(engine, point, idx, v, sp.Rational(settings.float64_step), FLOAT64_BITS, 17,
                            bound=FLOAT64_MAX)
        out[p] = FiniteDifferences(v, by_step, float(d64) if mpmath.isfinite(d64) else math.nan)
    return out


def _quotient(engine, point, idx, v, h, bits: int, digits: int, bound=None):
    """``(L(x + h·v) − L(x − h·v)) / 2h`` on balls at ``bits`` bits, as an mpmath number (NaN: no ball)."""
    with ball_precision(bits):
        losses = []
        for sign in (1, -1):
            moved = list(point)
            for i, vi in zip(idx, v):
                moved[i] = point[i] + sign * h * vi
            try:
                losses.append(engine.loss_value({s: exact_ball(x) for s, x in zip(engine.inputs, moved)},
                                                None if bound is None else arb(bound)))
            except (DerivauditError, ArithmeticError, ValueError):
                return mpmath.nan  # a step that leaves the loss's domain gives no evidence
        quotient = (losses[0] - losses[1]) / (2 * exact_ball(h))
        if not quotient.is_finite():
            return mpmath.nan
        with mpmath.workdps(digits):
            return to_mpf(quotient)


def directional(values, direction) -> mpmath.mpf:
    """``Σ valuesᵢ · directionᵢ`` in mpmath (NaN if a value is NaN)."""
    return mpmath.fsum(mpmath.mpf(x) * (mpmath.mpf(d.p) / d.q) for x, d in zip(values, direction))


def convergence(claim_mp: list, exact_mp: list, differences: FiniteDifferences,
                settings: AuditSettings) -> Convergence:
    """Relative differences per step, their observed orders and ``|claim − exact|`` per entry."""
    with mpmath.workdps(settings.dps + EVIDENCE_GUARD_DIGITS):
        entry_diff = [abs(c - e) for c, e in zip(claim_mp, exact_mp)]  # for the reports' heat-map
        claim_v = directional(claim_mp, differences.direction)
        exact_v = directional(exact_mp, differences.direction)
        rels = [_mp_relative_difference([claim_v], [g]) for g in differences.by_step]
        errs = [_mp_relative_difference([exact_v], [g]) for g in differences.by_step]
        hs = [mpmath.mpf(h.p) / h.q for h in map(exact_step, settings.steps)]
        # below the resolution the differences are exact (a loss at most quadratic in P): no order
        floor = mpmath.mpf(10) ** -(settings.dps - 10)
        order = last_steps_order(rels, hs) if _finite(rels) and min(rels[-2:]) > floor else math.nan
        fd_order = last_steps_order(errs, hs) if _finite(errs) and min(errs[-2:]) > floor else math.nan
    return Convergence(rels, order, fd_order, entry_diff)


def _finite(values) -> bool:
    return all(mpmath.isfinite(v) for v in values)


def _mp_relative_difference(a, b) -> mpmath.mpf:
    """:func:`derivaudit.verdicts.relative_difference` at mpmath precision."""
    num = mpmath.sqrt(mpmath.fsum((x - y) ** 2 for x, y in zip(a, b)))
    den = mpmath.sqrt(mpmath.fsum(x ** 2 for x in a)) + mpmath.sqrt(mpmath.fsum(y ** 2 for y in b))
    return num / den if den else mpmath.mpf(0)


def last_steps_order(errors, steps) -> float:
    """Observed order between the last two steps (:func:`~derivaudit.studies.sweep.observed_order`)."""
    return observed_order(errors[-2:], steps[-2:])[-1]


def grade(rel: float, settings: AuditSettings) -> str:
    """The gradient-check word for a float64 relative difference, with the spec's thresholds."""
    return gradient_band(rel, (settings.fine, settings.look_again, settings.bug))
