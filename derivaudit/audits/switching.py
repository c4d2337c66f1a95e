"""Evidence points clear of the model's switching points.

A model with kinks and jumps (relu, ``max``/``min``, ``abs``, ``clip``,
comparisons, ``where``) is smooth only where none of its switching
functions ``g`` (:meth:`~derivaudit.audits.spec.Model.switching_functions`)
is 0.  The finite-difference evidence moves each entry of a claimed
parameter ``P`` by at most

    h = max(steps, float64_step)

so a centered difference taken within ``h`` of a zero of ``g`` measures the
jump or the kink, not the derivative, and a point *on* a switch has no
derivative to compare with.  A point is **clear** when, for every claimed
parameter ``P``, with every entry of ``P`` widened to the ball
``[p − h, p + h]`` (data and the other parameters exact), the ball of each
switching function

* excludes 0: ``g`` keeps one sign on the whole box, or
* is exactly 0: ``g`` vanishes on the whole box (``max(0, s)`` where
  ``s < 0``; a comparison ``h > 0`` of an inactive relu), so whatever it
  switches is constant there.

Sign constancy, not a margin on ``|g|``, is the rule: a switching function
that is 0 on a whole region (an inactive relu's output) is no switch there.
Ball arithmetic encloses the range of ``g`` on the box, so a clear point is
proved clear; the enclosure may overestimate and reject a point that was
clear, which only costs a candidate.
"""

from __future__ import annotations

import sympy as sp
from flint import arb

from derivaudit.core.balls import UnsupportedFunction, ball_precision, exact_ball
from derivaudit.errors import DerivauditError
from derivaudit.lang.arrays import entries
from derivaudit.audits.evidence import exact_step
from derivaudit.audits.graph import ModelGraph
from derivaudit.audits.spec import AuditSettings, Model
from derivaudit.audits.witness import LayeredBalls

__all__ = ["SwitchingGuard", "largest_step"]

#: bits of the box evaluation: enough to separate a sign, the box's width dominates the radius
_GUARD_BITS = 64


def largest_step(settings: AuditSettings) -> sp.Rational:
    """``h = max(steps, float64_step)``: the farthest any finite difference moves a parameter entry."""
    return max([exact_step(s) for s in settings.steps] + [sp.Rational(settings.float64_step)])


class SwitchingGuard:
    """Counts the switching functions a point's finite differences may step across.

    >>> from derivaudit.audits.spec import load_spec, build
    >>> from derivaudit.audits.graph import model_graph
    >>> spec = load_spec({"shapes": {"W": [1, 2]}, "params": {"names": ["W"]},
    ...     "forward": {"loss": "sum(relu(W))"}, "claims": {"W": "W > 0"}})
    >>> model = build(spec, symbolic_draws=True)
    >>> guard = SwitchingGuard(model, model_graph(model), model.symbols(), spec.settings)
    >>> guard.straddled([sp.Rational(1, 2), sp.Rational(-1, 3)])   # both entries ≥ 0.33 from 0
    0
    >>> guard.straddled([sp.Rational(1, 2), sp.Rational(1, 200)])  # within h = 0.01 of the kink
    1
    """

    def __init__(self, model: Model, graph: ModelGraph, inputs, settings: AuditSettings):
        self.inputs = tuple(inputs)
        self.functions = model.switching_functions()
        self.half_width = largest_step(settings)
        self.boxes = [frozenset(entries(model.param_symbols[p])) for p in model.spec.claims]
        try:
            self.program = LayeredBalls(graph.chain, self.functions) if self.functions else None
        except UnsupportedFunction:  # no enclosure: no point can be shown clear
            self.program = None

    @property
    def active(self) -> bool:
        """Does the model switch anywhere (and can its switching functions be enclosed)?"""
        return self.program is not None

    def straddled(self, point) -> int:
        """How many (claimed parameter, switching function) pairs may switch within ``h`` of ``point``.

        0 means the point is clear: every finite difference of every claimed
        parameter stays on one side of every switch.
        """
        if self.program is None:
            return 0
        count = 0
        with ball_precision(_GUARD_BITS):
            exact = [exact_ball(v) for v in point]
            width = arb(0, 1) * exact_ball(self.half_width)   # the ball [−h, h], h rounded outwards
            for box in self.boxes:
                env = {s: b + width if s in box else b for s, b in zip(self.inputs, exact)}
                try:
                    values = self.program.evaluate(env)
                except (DerivauditError, ArithmeticError, ValueError):
                    count += len(self.functions)  # undefined somewhere in the box: not clear
                    continue
                count += sum(1 for g in values if not _keeps_sign(g))
        return count


    def values_at(self, point) -> list | None:
        """The switching functions' balls at the exact ``point`` (None where undefined)."""
        with ball_precision(_GUARD_BITS):
            env = {s: exact_ball(v) for s, v in zip(self.inputs, point)}
            try:
                return self.program.evaluate(env)
            except (DerivauditError, ArithmeticError, ValueError):
                return None

    def band_point(self, point, which: int) -> list | None:
        """A point inside the band of width ``h`` around a switch, not on it: one entry ``s`` of a
        claimed parameter is moved along the line until switching function number ``which``
        (modulo their count) is ``±h/2`` (secant step on the exact values; the result is
        checked: no switching function is 0 there unless it is 0 on the whole box).

        A bug that lives only near a switch (a relu mask ``z > −0.02`` for ``z > 0``) is found
        there; such points serve the certified comparison of claim and gradient, never the
        finite differences (those are taken at a clear point).
        """
        if self.program is None:
            return None
        k = which % len(self.functions)
        params = [i for i, s in enumerate(self.inputs) if any(s in box for box in self.boxes)]
        for i in params:
            base = self.values_at(point)
            moved = list(point)
            moved[i] = point[i] + 1
            other = self.values_at(moved)
            if base is None or other is None:
                continue
            g0, g1 = base[k].mid(), other[k].mid()
            slope = g1 - g0
            if slope == 0 or not slope.is_finite():
                continue
            target = sp.Rational(1, 2) * self.half_width * (-1 if (which // 2) % 2 == 0 else 1)
            step = (exact_ball(target) - g0) / slope
            candidate = list(point)
            candidate[i] = point[i] + sp.Rational(str(step.mid().str(20, radius=False)))
            values = self.values_at(candidate)
            if values is not None and all(_keeps_sign(g) for g in values) and not values[k].is_zero():
                return candidate
        return None


def _keeps_sign(g) -> bool:
    """Is the ball ``g`` of one sign (excludes 0) or exactly 0 (radius 0)?"""
    return g.is_finite() and (g.is_zero() or not g.contains(0))
