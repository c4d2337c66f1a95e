"""Large θ at ``precision="mp"``: random directions on balls, then bisection to the wrong entries.

The float64 search of :mod:`~derivaudit.gradcheck.locate`, lifted: ``f``
runs on balls of ``dps`` digits (:mod:`~derivaudit.gradcheck.precision`),
and along a direction ``v`` (entries ±1, exact) the centered difference

    ``D_v = (f(θ + h·v) − f(θ − h·v)) / 2h``,  ``h = 2^-(bits/3)·max(1, |θ|)``

is a ball; its error against ``∇f·v`` is ``O(h²)`` (about ``10^-(4·dps/3)``),
covered by the allowance ``n·h·(1 + |D_v|)`` for ``n`` moved entries.  The
rule for "wrong" is the certified one of
:func:`~derivaudit.gradcheck.balls.judge_balls`: the ball of
``g·v − D_v``, widened by the allowance, excludes 0, and the relative
difference is at least ``10^-(dps/2)``.  A direction cannot hide a single
wrong entry (its error ``eᵢ·vᵢ`` has nothing to cancel against), so
``directions`` of them decide whether anything is wrong; a disagreeing
block is halved, each half checked with fresh signs, down to single
entries, whose own centered difference is then their reference:
``2k + 4·log₂(n)`` evaluations of ``f`` per wrong entry instead of ``2n``.
"""

from __future__ import annotations

import numpy as np
from flint import arb

from derivaudit.gradcheck.balls import ball_scalar, ball_step_of, lifted_problem
from derivaudit.gradcheck.lifted import BallArray, ball_relative_difference, lift_point, mid_floats
from derivaudit.gradcheck.locate import MAX_LOCATED
from derivaudit.gradcheck.precision import lifted, one_lifted_check_at_a_time
from derivaudit.gradcheck.results import GradientCheckResult, Judged, build_result, component_errors

__all__ = ["mp_check_by_directions"]


class _Directions:
    """Directional derivatives of ``f`` on balls around θ, and the certified comparison with ``g·v``."""

    def __init__(self, value_at, theta: np.ndarray, analytic, dps: int):
        self.value_at, self.theta, self.analytic, self.dps = value_at, theta, analytic, dps
        self.base = lift_point(theta).view(np.ndarray)
        self.h = arb(ball_step_of(dps) * max(1.0, float(np.max(np.abs(theta))) if theta.size else 1.0))
        self.calls = 0

    def derivative(self, v: np.ndarray):
        """``(D_v, allowance)``: the centered difference along ``v`` (entries in {-1, 0, 1}) as a ball."""
        moved = np.flatnonzero(v)
        plus, minus = self.base.copy(), self.base.copy()
        for i in moved:
            plus[i] = self.base[i] + self.h if v[i] > 0 else self.base[i] - self.h
            minus[i] = self.base[i] - self.h if v[i] > 0 else self.base[i] + self.h
        self.calls += 2
        d = (ball_scalar(self.value_at(plus.view(BallArray))) - ball_scalar(self.value_at(minus.view(BallArray)))) \
            / (2 * self.h)
        allowance = len(moved) * float(self.h.mid()) * (1 + abs(float(d.mid())))
        return d, allowance

    def claimed(self, v: np.ndarray):
        """``g·v`` as a ball."""
        return sum((self.analytic[i] if v[i] > 0 else -self.analytic[i] for i in np.flatnonzero(v)), arb(0))

    def wrong(self, v: np.ndarray) -> tuple[bool, float]:
        """Is ``g·v`` certainly not ``∇f·v`` (the certified rule), and the relative difference."""
        d, allowance = self.derivative(v)
        g = self.claimed(v)
        difference = g - d
        gap = abs(float(difference.mid())) - float(difference.rad()) - allowance
        scale = abs(float(g.mid())) + abs(float(d.mid()))
        relative = abs(float(difference.mid())) / scale if scale else 0.0
        return gap > 0 and relative >= 10.0 ** (-self.dps / 2), relative


def _bisect(search: _Directions, block: np.ndarray, rng, found: dict) -> None:
    """Name the wrong entries of ``block`` (known to disagree) by halving it."""
    if len(found) >= MAX_LOCATED:
        return
    if len(block) == 1:
        v = np.zeros(search.theta.size, dtype=int)
        v[block[0]] = 1
        d, _ = search.derivative(v)
        if search.wrong(v)[0]:
            found[int(block[0])] = d
        return
    for half in np.array_split(block, 2):
        v = np.zeros(search.theta.size, dtype=int)
        v[half] = rng.choice((-1, 1), size=len(half))
        if search.wrong(v)[0]:
            _bisect(search, half, rng, found)


@one_lifted_check_at_a_time
def mp_check_by_directions(problem, *, dps: int, directions: int = 8,
                           seed: int = 0) -> tuple[GradientCheckResult | None, str]:
    """The directions check on balls of ``dps`` digits, or ``(None, why)`` when the code cannot run on balls."""
    value_at, f0, analytic, why = lifted_problem(problem, dps)
    if value_at is None:
        return None, why
    theta, rng = problem.theta, np.random.default_rng(seed)
    analytic = np.asarray(analytic, dtype=object)
    found: dict[int, arb] = {}
    worst = 0.0
    with lifted(dps, problem.functions):
        search = _Directions(value_at, theta, analytic, dps)
        for _ in range(max(1, int(directions))):
            v = rng.choice((-1, 1), size=theta.size)
            wrong, relative = search.wrong(v)
            worst = max(worst, relative)
            if wrong and not found:
                _bisect(search, np.arange(theta.size), rng, found)
    reference = analytic.copy()
    bad = np.zeros(theta.size, bool)
    for i, value in found.items():
        reference[i], bad[i] = value, True
    g, n = mid_floats(analytic), mid_floats(reference)
    parts = [ball_relative_difference(analytic[a:b], reference[a:b]) for _, _, a, b in problem.packing.bounds()]
    judged = Judged(theta, g, n, component_errors(g, n), np.zeros(theta.size), bad,
                    max(worst, ball_relative_difference(analytic, reference)), parts)
    notes = [f"{directions} random directions on balls of {dps} digits, then bisection over blocks: "
             f"{search.calls} evaluations of f for {theta.size} entries (1 of the gradient); entries not "
             "located keep the claimed value in .numeric"]
    if len(found) >= MAX_LOCATED:
        notes.append(f"stopped after locating {MAX_LOCATED} wrong entries; there may be more (mode='entries')")
    return build_result(judged, problem.packing, method="random directions and bisection on balls",
                        eps=ball_step_of(dps), notes=notes, precision="mp", dps=dps), ""
