"""The lifted-precision check: the user's code on balls, its claimed gradient against ball differences.

Both the function and the claimed gradient run lifted
(:mod:`derivaudit.gradcheck.precision`), so a correct gradient agrees with
the reference to far more digits than float64 holds (``1e-60`` at 50
digits), and a wrong entry is *certain*: its difference ball, widened by the
reference's uncertainty, excludes zero.  An entry counts as wrong when that
holds and its relative difference is at least ``10^-(dps/2)``.
"""

from __future__ import annotations

import math

import numpy as np
from flint import arb

from derivaudit.gradcheck import diagnosis
from derivaudit.gradcheck.lifted import (BallArray, ball_relative_difference, lift, lift_point, mid_floats,
                                         working_bits)
from derivaudit.gradcheck.numeric import ball_centered
from derivaudit.gradcheck.precision import lifted, one_lifted_check_at_a_time, probe_lifted
from derivaudit.gradcheck.results import GradientCheckResult, Judged, build_result, component_errors

__all__ = ["mp_check", "ball_scalar", "all_balls", "judge_balls", "lifted_problem", "ball_step_of"]


def ball_scalar(value) -> arb | None:
    """The ball a lifted ``f`` returned (a 0-d ball array or a ball), or None if it is not one."""
    if type(value) is BallArray and value.size == 1:
        value = value.view(np.ndarray).reshape(()).item()
    return value if type(value) is arb else None


def all_balls(value) -> bool:
    """True when every number in ``value`` (an array, tuple, list or dict of them) is a ball."""
    if isinstance(value, dict):
        return all(all_balls(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return all(all_balls(v) for v in value)
    if type(value) is arb:
        return True
    if type(value) is BallArray or (isinstance(value, np.ndarray) and value.dtype == object):
        return all(type(v) is arb for v in value.view(np.ndarray).flat)
    return False


def judge_balls(theta, analytic, reference, uncertainty, packing, dps) -> Judged:
    """Claimed against reference balls: wrong where certainly different at the ``10^-(dps/2)`` level."""
    difference = np.array([a - b for a, b in zip(analytic, reference)], dtype=object)
    g, n, d = mid_floats(analytic), mid_floats(reference), mid_floats(difference)
    radius = np.array([float(x.rad()) for x in difference])
    component = component_errors(g, n, d)
    scale = np.linalg.norm(g) + np.linalg.norm(n)
    level = 10.0 ** (-dps / 2)
    certain = np.abs(d) - radius > uncertainty
    bad = certain & (component >= level) & (np.abs(d) > 10.0 ** -dps * scale)
    parts = [ball_relative_difference(analytic[a:b], reference[a:b]) for _, _, a, b in packing.bounds()]
    return Judged(theta, g, n, component, np.asarray(uncertainty, float) + radius, bad,
                  ball_relative_difference(analytic, reference), parts)


def lifted_problem(problem, dps: int):
    """``(value_at, f0, analytic, "")`` for ``problem`` run on balls, or ``(None, None, None, why)``.

    ``value_at(flat)`` is ``f`` at a flat ball array (call it inside
    :func:`~derivaudit.gradcheck.precision.lifted`), ``f0`` its ball at θ
    and ``analytic`` the claimed gradient as a flat array of balls.
    """
    packing, theta = problem.packing, problem.theta
    if any(fw != "numpy" for fw in packing.frameworks):
        return None, None, None, "torch and jax arrays cannot hold balls"
    constants: dict[int, BallArray] = {}

    def const(value):                       # the check's own constants, lifted once
        key = id(value)
        if key not in constants:
            constants[key] = lift(value)
        return constants[key]

    def value_at(flat):
        return problem.value(packing.unflatten(flat.view(BallArray), native=False), const)

    def run():
        return value_at(lift_point(theta)), problem.gradient(packing.unflatten(lift_point(theta), native=False),
                                                             const)

    probe, why = probe_lifted(run, dps, lambda r: ball_scalar(r[0]) is not None and all_balls(r[1]),
                              problem.functions)
    if probe is None:
        return None, None, None, why
    f0, gradient = probe
    if not ball_scalar(f0).is_finite():
        # a NaN or infinite f(θ) is the float64 check's clear error, not a verdict on balls:
        # falling back gives the same answer in both precisions (and a finite float64 f, if
        # only the balls blew up, is checked there and says so)
        return None, None, None, "f(θ) on balls is not finite"
    return value_at, f0, packing.flatten_gradient(gradient, problem.who, balls=True), ""


@one_lifted_check_at_a_time
def mp_check(problem, dps: int, notes: list[str]) -> tuple[GradientCheckResult | None, str]:
    """The check at ``dps`` digits, or ``(None, why)`` when the code cannot run on balls."""
    packing, theta = problem.packing, problem.theta
    value_at, f0, analytic, why = lifted_problem(problem, dps)
    if value_at is None:
        return None, why
    calls = [2]

    def counted(flat):
        calls[0] += 1
        return ball_scalar(value_at(flat))

    with lifted(dps, problem.functions):
        again = counted(lift_point(theta))
        columns, bounds = ball_centered(counted, theta, dps)
    reference, uncertainty = np.array(columns, dtype=object), np.array(bounds, dtype=float)
    nondeterministic = not ball_scalar(f0).overlaps(again)
    judged = judge_balls(theta, analytic, reference, uncertainty, packing, dps)
    notes.append(f"{calls[0]} evaluations of f on balls, 1 of the gradient")
    reasons = diagnosis.circumstances(nondeterministic=nondeterministic)
    return build_result(judged, packing, method="centered differences on balls", eps=_step(dps), notes=notes,
                        precision="mp", dps=dps, circumstances=reasons), ""


def _step(dps: int) -> float:
    return math.ldexp(1.0, -(working_bits(dps) // 3))


def ball_step_of(dps: int) -> float:
    """The base step of centered differences on balls at ``dps`` digits: ``2^-(bits/3)``."""
    return _step(dps)
