"""Second-order references on balls: the user's code lifted, differences at exact steps, certified error.

Two references, both evaluated on python-flint balls so that rounding is the
balls' own radius (certified), and truncation is bounded by an allowance:

- **from the user's gradient** (``check_hessian(..., grad=g)`` and every
  ``check_hvp``): the centered difference of ``g`` at ``working_bits(dps)``
  bits with the exact step ``h = 2^-(bits/3)·2^⌈log₂ max(1,|xⱼ|)⌉``
  (:func:`~derivaudit.gradcheck.numeric.ball_centered`), truncation
  ``h²|g'''|/6`` ≈ ``10^-(4·dps/3)``, allowance ``h·(1 + |R|)``;
- **from f alone**: the second difference
  ``(f(x+hᵢeᵢ+hⱼeⱼ) − f(x+hᵢeᵢ−hⱼeⱼ) − f(x−hᵢeᵢ+hⱼeⱼ) + f(x−hᵢeᵢ−hⱼeⱼ)) / (4hᵢhⱼ)``
  (diagonal ``(f(x+hᵢeᵢ) − 2f(x) + f(x−hᵢeᵢ)) / hᵢ²``) at ``working_bits(3·dps/2)``
  bits with the exact step ``hᵢ = 2^-(bits/4)·2^⌈log₂ max(1,|xᵢ|)⌉``: roundoff
  (the radius, ``≈ 2^-bits/h²``) and truncation ``h²|f⁽⁴⁾|/12`` both near
  ``10^-(3·dps/2)``, allowance ``max(hᵢ, hⱼ)·(1 + |R|)``.

The allowance holds as long as the third (fourth) derivative is below
``6(1 + |R|)/h`` (``12(1 + |R|)/h``), about ``10³⁶`` at 50 digits; an entry
is named wrong when its difference ball, widened by it, excludes zero at the
``10^-(dps/2)`` relative level (:func:`~derivaudit.gradcheck.balls.judge_balls`).
"""

from __future__ import annotations

import math

import numpy as np
from flint import arb

from derivaudit.gradcheck.balls import all_balls, ball_scalar, judge_balls
from derivaudit.gradcheck.hessian_parts import (claimed_matrix, hessian_cause, hessian_packing, kinks_in,
                                                objective_of, vector_of)
from derivaudit.gradcheck.lifted import BallArray, as_balls, lift_point, mid_float, mid_floats, working_bits
from derivaudit.gradcheck.numeric import DEFAULT_EPS, ball_centered, ball_step
from derivaudit.gradcheck.packing import Packing
from derivaudit.gradcheck.precision import lifted, probe_lifted
from derivaudit.gradcheck.results import build_result

__all__ = ["mp_hessian", "mp_hvp", "function_dps"]


def function_dps(dps: int) -> int:
    """The digits the second differences of ``f`` run at: ``3·dps/2``, so roundoff ``2^-bits/h²`` stays far
    below ``10^-dps``."""
    return (3 * dps + 1) // 2


def _second_step(value: float, bits: int) -> float:
    return math.ldexp(1.0, math.frexp(max(1.0, abs(float(value))))[1] - bits // 4)


def _ball_second_differences(value, theta: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Second differences of ``value`` (flat balls → ball) with their uncertainty (radius + allowance)."""
    n = theta.size
    x = lift_point(theta).view(np.ndarray).copy()
    steps = [_second_step(t, bits) for t in theta]
    base = [arb(float(t)) for t in theta]
    f0 = value(x)

    def at(moves):
        for i, s in moves:
            x[i] = base[i] + s * arb(steps[i])
        result = value(x)
        for i, _ in moves:
            x[i] = base[i]
        return result

    reference = np.empty((n, n), dtype=object)
    uncertainty = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            if i == j:
                d = (at([(i, 1)]) - 2 * f0 + at([(i, -1)])) / arb(steps[i]) ** 2
            else:
                d = (at([(i, 1), (j, 1)]) - at([(i, 1), (j, -1)]) - at([(i, -1), (j, 1)])
                     + at([(i, -1), (j, -1)])) / (4 * arb(steps[i]) * arb(steps[j]))
            reference[i, j] = reference[j, i] = d
            uncertainty[i, j] = uncertainty[j, i] = float(d.rad()) + max(steps[i], steps[j]) * (1 + abs(mid_float(d)))
    return reference, uncertainty


def _grad_agrees_on_balls(value_at, gradient, theta: np.ndarray, dps: int, seed: int) -> str:
    """Empty when the claimed gradient balls agree with the ball directional derivative of f, else why not."""
    v = np.random.default_rng(seed + 7919).standard_normal(theta.size)
    h = ball_step(float(np.max(np.abs(theta))) * float(np.max(np.abs(v))), dps)
    point, direction = lift_point(theta), lift_point(v)
    step = arb(h)
    d = (ball_scalar(value_at(point + step * direction)) - ball_scalar(value_at(point - step * direction))) / (2 * step)
    claimed = sum((g * w for g, w in zip(gradient, direction.view(np.ndarray))), arb(0))
    difference = claimed - d
    allowance = h * float(np.max(np.abs(v))) * (1 + abs(mid_float(d)))
    size = abs(mid_float(claimed)) + abs(mid_float(d))
    if abs(mid_float(difference)) - float(difference.rad()) > allowance and \
            abs(mid_float(difference)) >= 10.0 ** (-dps / 2) * size:
        return (f"grad disagrees with f along a random direction on balls (grad·v = {mid_float(claimed):.6g}, "
                f"f gives {mid_float(d):.6g}); check it with check_gradient")
    return ""


def _float64_kinks(f, grad, theta, shape, judged, n, base):
    bad = [tuple(int(k) for k in np.unravel_index(i, (n, n))) for i in np.flatnonzero(judged.bad)]
    if not bad:
        return []
    return kinks_in(objective_of(f, shape), None if grad is None else vector_of(grad, shape), theta, bad, base)


def mp_hessian(f, hess, grad, theta: np.ndarray, shape: tuple, dps: int, seed: int, notes: list,
               functions: tuple):
    """The Hessian check on balls, or ``(None, why)`` when the code cannot run on balls; ``functions``
    are the user's own callables (``f``, ``hess``, ``grad`` may wrap them), whose modules are lifted."""
    n = theta.size
    value_at = lambda flat: f(flat.view(BallArray).reshape(shape))    # noqa: E731

    def run(with_grad):
        point = lift_point(theta)
        return f(point.reshape(shape)), (grad(point.reshape(shape)) if with_grad else None), \
            hess(lift_point(theta).reshape(shape))

    def fine(r):
        return ball_scalar(r[0]) is not None and all_balls(r[2]) and (r[1] is None or all_balls(r[1]))

    use_grad = grad is not None
    if use_grad:
        probe, why = probe_lifted(lambda: run(True), dps, fine, functions)
        if probe is None:
            return None, why
        gradient = as_balls(probe[1]).ravel()
        with lifted(dps, functions):
            wrong = _grad_agrees_on_balls(value_at, gradient, theta, dps, seed)
        if wrong:
            notes.append(f"{wrong}; the reference is second differences of f instead")
            use_grad = False
    if use_grad:
        with lifted(dps, functions):
            columns, bounds = ball_centered(lambda x: as_balls(grad(x.view(BallArray).reshape(shape))).ravel(),
                                            theta, dps)
        reference = np.array(columns, dtype=object).T
        uncertainty = np.array(bounds, dtype=float).T
        method = "centered differences of grad on balls"
        notes.append(f"{method} (columns): {2 * n + 1} calls of grad at {dps} digits, step 2^-{working_bits(dps) // 3}"
                     f"·max(1,|xⱼ|) (error ≈ 10^-{4 * dps // 3})")
    else:
        high = function_dps(dps)
        probe, why = probe_lifted(lambda: run(False), high, fine, functions)
        if probe is None:
            return None, why
        with lifted(high, functions):
            reference, uncertainty = _ball_second_differences(lambda x: ball_scalar(value_at(x)), theta,
                                                              working_bits(high))
        method = "second differences of f on balls"
        notes.append(f"{method}: {2 * n * n + 1} calls of f at {high} digits, step 2^-{working_bits(high) // 4}"
                     f"·max(1,|xᵢ|) (error ≈ 10^-{high})")
    analytic = claimed_matrix(as_balls(probe[2]), n, shape, balls=True)
    judged = judge_balls(np.zeros(n * n), analytic.ravel(), reference.ravel(), uncertainty.ravel(),
                         hessian_packing(n), dps)
    result = build_result(judged, hessian_packing(n), method=method, eps=0.0, notes=notes, precision="mp", dps=dps,
                          compared="Hessian")
    kinks = _float64_kinks(f, grad if use_grad else None, theta, shape, judged, n, DEFAULT_EPS)
    return hessian_cause(result, mid_floats(analytic), kinks), ""


def mp_hvp(grad, hvp, theta: np.ndarray, shape: tuple, vectors: list, packing: Packing, dps: int,
           functions: tuple):
    """The HVP check on balls, or ``(None, why)``; ``functions`` as for :func:`mp_hessian`."""

    def run():
        point = lift_point(theta).reshape(shape)
        return [hvp(point, lift_point(v).reshape(shape)) for v in vectors]

    probe, why = probe_lifted(run, dps, all_balls, functions)
    if probe is None:
        return None, why
    claimed = [as_balls(p).ravel() for p in probe]
    if any(c.size != theta.size for c in claimed):
        from derivaudit.errors import ShapeError
        raise ShapeError(f"hvp returned {claimed[0].size} entries, but x has {theta.size}: "
                         f"H·v must have x's shape {shape}")
    reference, uncertainty = [], []
    with lifted(dps, functions):
        point = lift_point(theta)
        for v in vectors:
            width = float(np.max(np.abs(v)))
            h = ball_step(float(np.max(np.abs(theta))), dps) / 2.0 ** math.ceil(math.log2(width))
            step, direction = arb(h), lift_point(v)
            plus = as_balls(grad((point + step * direction).reshape(shape))).ravel()
            minus = as_balls(grad((point - step * direction).reshape(shape))).ravel()
            d = (plus - minus) / (2 * step)
            reference.append(d)
            uncertainty.append(np.array([float(b.rad()) + h * width * (1 + abs(mid_float(b))) for b in d]))
    judged = judge_balls(np.zeros(packing.size), np.concatenate(claimed), np.concatenate(reference),
                         np.concatenate(uncertainty), packing, dps)
    notes = [f"directional derivatives of grad on balls along {len(vectors)} direction(s), exact step "
             f"2^-{working_bits(dps) // 3}·max(1,|x|)/|v|∞ (error ≈ 10^-{4 * dps // 3}; the Hessian is never formed)"]
    return build_result(judged, packing, method="centered differences of grad along v on balls", eps=0.0,
                        notes=notes, precision="mp", dps=dps, compared="Hessian–vector product"), ""
