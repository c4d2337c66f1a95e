"""Large θ: random directional derivatives first, then bisection over blocks to name the wrong entries.

A directional derivative along ``v`` costs four calls of ``f`` (centered at
``h`` and ``2h``, whose disagreement is its uncertainty) whatever θ's size,
and a wrong entry ``i`` shows in every direction that moves it:
``g·v − ∇f·v = Σ eⱼvⱼ`` with random signs ``vⱼ = ±1`` cannot cancel a single
error.  ``k`` directions over all entries decide whether anything is wrong;
a block that disagrees is halved and each half checked with fresh signs,
down to single entries: ``4k + 8·log₂(n)`` calls per wrong entry instead of
the ``2n`` of entry-by-entry differences.
"""

from __future__ import annotations

import numpy as np

from derivaudit.gradcheck.engine import Problem, float64_setup
from derivaudit.gradcheck.numeric import DEFAULT_EPS
from derivaudit.gradcheck.results import THRESHOLDS, GradientCheckResult, Judged, build_result, component_errors
from derivaudit.constants import UNIT_ROUNDOFF
from derivaudit.verdicts import relative_difference

__all__ = ["check_by_directions", "MAX_LOCATED"]

#: bisection stops after naming this many wrong entries (the rest of the search would cost O(n) calls)
MAX_LOCATED = 64


def _directional(f, theta: np.ndarray, v: np.ndarray, base: float, f0: float) -> tuple[float, float]:
    """``(∇f·v, uncertainty)`` by centered differences along ``v`` at ``h`` and ``2h``."""
    scale = max(1.0, float(np.max(np.abs(theta[v != 0])))) if v.any() else 1.0
    quotients = []
    for h in (base * scale, 2 * base * scale):
        plus, minus = f(theta + h * v, "θ + h·v"), f(theta - h * v, "θ − h·v")
        quotients.append((float(np.real(plus)) - float(np.real(minus))) / (2 * h))
    roundoff = 2 * UNIT_ROUNDOFF * abs(f0) / (base * scale)
    return quotients[0], abs(quotients[0] - quotients[1]) + roundoff


def _disagrees(claimed: float, numeric: float, uncertainty: float) -> bool:
    difference = abs(claimed - numeric)
    return difference > 10 * uncertainty and difference >= THRESHOLDS[1] * (abs(claimed) + abs(numeric))


def _bisect(f, theta, analytic, block: np.ndarray, rng, base, f0, found: dict) -> None:
    """Name the wrong entries of ``block`` (known to disagree) by halving it."""
    if len(found) >= MAX_LOCATED:
        return
    if len(block) == 1:
        v = np.zeros(theta.size)
        v[block[0]] = 1.0
        numeric, _ = _directional(f, theta, v, base, f0)
        found[int(block[0])] = numeric
        return
    for half in np.array_split(block, 2):
        v = np.zeros(theta.size)
        v[half] = rng.choice((-1.0, 1.0), size=len(half))
        numeric, uncertainty = _directional(f, theta, v, base, f0)
        if _disagrees(float(analytic @ v), numeric, uncertainty):
            _bisect(f, theta, analytic, half, rng, base, f0, found)


def check_by_directions(problem: Problem, *, directions: int = 8, eps: float | None = None,
                        seed: int = 0) -> GradientCheckResult:
    """Check ``problem`` along ``directions`` random ±1 directions, then bisect to the wrong entries (float64)."""
    base = DEFAULT_EPS if eps is None else float(eps)
    f, f0, nondeterministic, analytic = float64_setup(problem)
    theta, rng = problem.theta, np.random.default_rng(seed)
    worst, found = 0.0, {}
    everything = np.arange(theta.size)
    for _ in range(max(1, int(directions))):
        v = rng.choice((-1.0, 1.0), size=theta.size)
        claimed = float(analytic @ v)
        numeric, uncertainty = _directional(f, theta, v, base, f0)
        worst = max(worst, relative_difference([claimed], [numeric]))
        if _disagrees(claimed, numeric, uncertainty) and not found:
            _bisect(f, theta, analytic, everything, rng, base, f0, found)
    numeric = analytic.copy()
    bad = np.zeros(theta.size, bool)
    for i, value in found.items():
        numeric[i], bad[i] = value, True
    component = component_errors(analytic, numeric)
    judged = Judged(theta, analytic, numeric, component, np.zeros(theta.size), bad, worst,
                    [relative_difference(analytic[a:b], numeric[a:b]) for _, _, a, b in problem.packing.bounds()])
    notes = [f"{directions} random directions, then bisection over blocks: {f.calls} evaluations of f "
             f"for {theta.size} entries; entries not located keep the claimed value in .numeric"]
    if len(found) >= MAX_LOCATED:
        notes.append(f"stopped after locating {MAX_LOCATED} wrong entries; there may be more (mode='entries')")
    if nondeterministic:
        notes.append("f is not deterministic: it returned different values for the same θ")
    return build_result(judged, problem.packing, method="random directions and bisection", eps=base, notes=notes)
