"""Finite-difference evidence of a claim, as a gradient check would give it.

At the first random point: centered differences ``(L(P+h) − L(P−h)) / 2h``
of the loss at each step ``h`` of the settings, at ``dps`` digits; the
relative difference ``‖g_claim − g_num‖ / (‖g_claim‖ + ‖g_num‖)``; its
observed order ``log(r₁/r₂)/log(h₁/h₂)`` (2 for a right claim: the centered
error is O(h²); about 0 for a wrong one); and the same check done in float64
with the bands of :data:`derivaudit.verdicts.GRADIENT_BANDS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from derivaudit.core.guards import evaluation_limits
from derivaudit.lang.arrays import entries
from derivaudit.lang.parse import parse_constant
from derivaudit.limits import Limits
from derivaudit.studies.orders import observed_order
from derivaudit.verdicts import gradient_band
from derivaudit.audits.graph import ModelGraph, compile_outputs, is_adjoint
from derivaudit.audits.points import EVIDENCE_GUARD_DIGITS
from derivaudit.audits.spec import AuditSettings, Model

__all__ = ["FiniteDifferences", "finite_differences", "claims_float64", "Convergence", "convergence",
           "last_steps_order", "grade", "centered_gradient", "exact_step"]


@dataclass
class FiniteDifferences:
    """Centered differences of the loss for one parameter's entries at the first point."""

    #: one list of gradient entries per step of the settings, at ``dps + 20`` digits
    by_step: list[list]
    #: the float64 centered-difference gradient at ``float64_step``
    float64: np.ndarray


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


def finite_differences(model: Model, graph: ModelGraph, inputs, point, settings: AuditSettings,
                       limits: Limits) -> dict[str, FiniteDifferences]:
    """Centered differences of the loss for every claimed parameter at ``point`` (mpmath and float64)."""
    loss_chain = [(s, e) for s, e in graph.chain if not is_adjoint(s)]
    loss_mp = compile_outputs(inputs, [model.loss], loss_chain, "mpmath")
    loss_np = compile_outputs(inputs, [model.loss], loss_chain, "numpy")
    index_of = {s: i for i, s in enumerate(inputs)}
    steps = [exact_step(s) for s in settings.steps]
    wp = settings.dps + EVIDENCE_GUARD_DIGITS
    with mpmath.workdps(wp):
        base = [mpmath.mpf(v.p) / v.q for v in point]
    base64 = np.array([float(v) for v in point])
    out = {}
    for p in model.spec.claims:
        idx = [index_of[s] for s in entries(model.param_symbols[p])]
        with evaluation_limits(limits, f"the finite differences of the loss for {p}"):
            by_step = [centered_gradient(loss_mp, base, idx, h, wp) for h in steps]
        out[p] = FiniteDifferences(by_step, _centered_float64(loss_np, base64, idx, settings.float64_step))
    return out


def _centered_float64(loss_np, base64: np.ndarray, idx: list[int], h: float) -> np.ndarray:
    """The float64 centered differences: every perturbed input vector in one vectorised call."""
    n = len(idx)
    grid = np.repeat(base64[:, None], 2 * n, axis=1)
    for k, i in enumerate(idx):
        grid[i, 2 * k] += h
        grid[i, 2 * k + 1] -= h
    with np.errstate(all="ignore"):  # overflow gives inf/nan, which the verdict reports as no evidence
        try:
            losses = np.asarray(loss_np(*grid)[0], dtype=float) * np.ones(2 * n)
        except OverflowError:  # an exact constant beyond the doubles (1e400): no float64 number either
            return np.full(n, np.nan)
        return (losses[0::2] - losses[1::2]) / (2 * h)


def claims_float64(model: Model, graph: ModelGraph, inputs, point) -> dict[str, list[float]]:
    """Every claim's entries (in the claim's own layout) evaluated in float64 at ``point``."""
    params = list(model.spec.claims)
    claim_np = compile_outputs(inputs, [v for p in params for v in entries(model.claims[p])],
                               graph.chain, "numpy")
    with np.errstate(all="ignore"):
        try:
            flat = [float(v) for v in claim_np(*np.array([float(v) for v in point]))]
        except OverflowError:  # an exact constant beyond the doubles (1e400): no float64 number
            flat = [math.nan] * sum(len(entries(model.claims[p])) for p in params)
    out, offset = {}, 0
    for p in params:
        n = len(entries(model.claims[p]))
        out[p] = flat[offset:offset + n]
        offset += n
    return out


def centered_gradient(loss, base: list, indices: list[int], h: sp.Rational, wp: int) -> list:
    """``(L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h`` for each input ``i`` of ``indices``, at ``wp`` digits.

    The error is O(h²); the subtraction cancels about log10(1/h) digits, which
    the guard digits of ``wp`` cover.
    """
    with mpmath.workdps(wp):
        hh = mpmath.mpf(h.p) / h.q
        out = []
        for i in indices:
            plus, minus = list(base), list(base)
            plus[i] += hh
            minus[i] -= hh
            # a step that leaves the loss's domain gives no evidence: an error, or a complex
            # value (mpmath's log or sqrt of a negative number)
            try:
                value = (loss(*plus)[0] - loss(*minus)[0]) / (2 * hh)
            except (ZeroDivisionError, ValueError, OverflowError):
                value = mpmath.nan
            out.append(value if isinstance(value, mpmath.mpf) else mpmath.nan)
    return out


def convergence(claim_mp: list, exact_mp: list, differences: FiniteDifferences,
                settings: AuditSettings) -> Convergence:
    """Relative differences per step, their observed orders and ``|claim − exact|`` per entry."""
    with mpmath.workdps(settings.dps + EVIDENCE_GUARD_DIGITS):
        entry_diff = [abs(c - e) for c, e in zip(claim_mp, exact_mp)]  # for the reports' heat-map
        rels = [_mp_relative_difference(claim_mp, g) for g in differences.by_step]
        errs = [_mp_relative_difference(exact_mp, g) for g in differences.by_step]
        hs = [mpmath.mpf(h.p) / h.q for h in map(exact_step, settings.steps)]
        # below the resolution the differences are exact (a loss at most quadratic in P): no order
        floor = mpmath.mpf(10) ** -(settings.dps - 10)
        order = last_steps_order(rels, hs) if min(rels[-2:]) > floor else math.nan
        fd_order = last_steps_order(errs, hs) if min(errs[-2:]) > floor else math.nan
    return Convergence(rels, order, fd_order, entry_diff)


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
