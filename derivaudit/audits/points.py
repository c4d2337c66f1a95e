"""Evaluation of the exact gradients, claims and backward intermediates at
random exact points, and the entry-by-entry comparison of what was evaluated.

Claim and gradient are compiled once (:func:`sympy.lambdify` to mpmath, the
graph as common subexpressions) and evaluated at ``points`` random exact
points at ``dps + 20`` digits.  An entry that differs at some point is wrong
there, with that point as its counterexample.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

from derivaudit.core.balls import digits_to_bits
from derivaudit.core.rounding import decimal_mpf, rounded_decimal
from derivaudit.errors import DerivauditError, DomainError
from derivaudit.audits.spec import AuditSettings, random_rational

__all__ = ["ExactPointFunction", "Outputs", "PointValues", "random_points", "defined_points", "mp_values", "in_parameter_layout",
           "EVIDENCE_GUARD_DIGITS"]

#: digits above ``dps`` of the audit's mpmath evidence (the values shown, the centered differences,
#: the backward intermediates' first wrong step, the diagnoses): a centered difference at h = 1e-4
#: cancels 4 of them.  The claims' verdicts do not rest on these numbers (the balls of
#: :mod:`~derivaudit.audits.witness` decide), so this is not the certified engine's margin
#: ``core.numeric.GUARD_DIGITS``.
EVIDENCE_GUARD_DIGITS = 20


@dataclass
class Outputs:
    """Named groups of scalar outputs laid out in one list (one compiled function evaluates them all)."""

    exprs: list[sp.Expr] = field(default_factory=list)
    slots: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, key: str, values) -> None:
        values = list(values)
        self.slots[key] = (len(self.exprs), len(values))
        self.exprs.extend(values)

    def indices(self, keys) -> list[int]:
        """Positions of every output of the groups ``keys``."""
        return [i for key in keys for i in range(self.slots[key][0], sum(self.slots[key]))]


@dataclass
class PointValues:
    """The outputs evaluated at each random point, and comparisons between groups of them."""

    outputs: Outputs
    points: list[list[sp.Rational]]
    values: list[list]
    dps: int
    #: points whose finite differences may cross a switching point (no clear candidate was left)
    near_switch: list[int] = field(default_factory=list)
    #: points moved inside the band of width h around a switch (issue 22 item 9): the certified
    #: comparison uses them; finite differences are taken at point 0, which is never one of them
    in_band: list[int] = field(default_factory=list)
    #: what the values came from, when it has their balls: the values :meth:`printed`
    #: shows are then the correctly rounded decimals of the balls
    source: ExactPointFunction | None = field(default=None, repr=False, compare=False)

    @property
    def working_dps(self) -> int:
        return self.dps + EVIDENCE_GUARD_DIGITS

    def printed(self, k: int, key: str, index: int, digits: int = 12) -> str:
        """Output ``index`` of group ``key`` at point ``k`` as ``digits`` significant digits:
        the correctly rounded decimal of its ball (precision doubled, up to 3 times, until the
        ball decides the rounding), or the stored value's rounding when there is no ball."""
        first, _ = self.outputs.slots[key]
        value = self.values[k][first + index]
        if self.source is not None and mpmath.isfinite(value):
            bits = digits_to_bits(self.working_dps)
            for _ in range(4):
                decided = rounded_decimal(self.source.at_point(self.points[k], bits)[first + index], digits)
                if decided is not None:
                    return mpmath.nstr(decimal_mpf(decided[0], decided[1], digits), digits)
                bits *= 2
        with mpmath.workdps(self.working_dps):
            return mpmath.nstr(value, digits)

    def at(self, k: int, key: str) -> list:
        """The outputs of group ``key`` at point ``k``."""
        first, n = self.outputs.slots[key]
        return self.values[k][first:first + n]

    def differs(self, a, b, scale) -> bool:
        """Do ``a`` and ``b`` differ beyond ``dps − 10`` digits relative to ``scale``?"""
        if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
            return True  # a claim undefined (or infinite) where the gradient is a number
        with mpmath.workdps(self.working_dps):
            tol = mpmath.mpf(10) ** (-(self.dps - 10))
            return abs(a - b) > tol * max(abs(a), abs(b), scale)

    def wrong_indices(self, exact_at, claim_at, shape) -> tuple[list[tuple[int, ...]], dict[int, int]]:
        """Indices (in ``shape``) of entries that differ at some point, and the first such point of each."""
        first: dict[int, int] = {}
        for k in range(len(self.points)):
            e, c = exact_at(k), claim_at(k)
            with mpmath.workdps(self.working_dps):
                scale = max([abs(v) for v in e + c if mpmath.isfinite(v)] + [mpmath.mpf(0)]) \
                    * mpmath.mpf(10) ** -10
            for flat, (a, b) in enumerate(zip(e, c)):
                if flat not in first and self.differs(a, b, scale):
                    first[flat] = k
        wrong = [tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else () for flat in sorted(first)]
        return wrong, first


def random_points(count: int, inputs, settings: AuditSettings) -> list[list[sp.Rational]]:
    """``count`` reproducible random exact points (one value per input) in the settings' range."""
    rng = random.Random(settings.seed)
    return [[random_rational(rng, settings.low, settings.high) for _ in inputs] for _ in range(count)]


def defined_points(function, inputs, outputs: Outputs, settings: AuditSettings, required_keys,
                   draws=None, straddled=None, band=None) -> PointValues:
    """``settings.points`` random points where the outputs of ``required_keys`` are real and finite.

    Points where the model is undefined (a log of a negative number, a kink
    met exactly) are skipped; a model undefined at every candidate is an
    error in the spec.  The other outputs (claims) may be NaN there: a claim
    undefined where the gradient is defined is wrong at that point.
    ``draws`` (one dict per evidence point, from
    :func:`~derivaudit.audits.data.draw_data`) gives the drawn data inputs
    their values at the k-th point found.  ``straddled`` (from
    :class:`~derivaudit.audits.switching.SwitchingGuard`) counts the switching
    points a candidate's finite differences may step across: only clear
    candidates (count 0) are taken, unless too few are clear; then the
    slots left take the defined candidates that straddle fewest, and
    :attr:`PointValues.near_switch` lists them.
    """
    required = outputs.indices(required_keys)
    wp = settings.dps + EVIDENCE_GUARD_DIGITS
    candidates = random_points(20 * settings.points, inputs, settings)
    position = {s: i for i, s in enumerate(inputs)}

    def with_draw(point, slot):
        if not draws:
            return point
        point = list(point)
        for symbol, value in draws[slot].items():
            point[position[symbol]] = value
        return point

    def defined(point):
        try:
            vals = mp_values(function, point, wp)
        except DerivauditError as exc:  # undefined here, or what no point can help (say it)
            if isinstance(exc, DomainError):
                return None
            raise
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            return None
        return vals if all(mpmath.isfinite(vals[i]) for i in required) else None

    pts, values, taken = [], [], set()
    for j, candidate in enumerate(candidates):
        point = with_draw(candidate, len(pts))
        if straddled is not None and straddled(point):
            continue
        vals = defined(point)
        if vals is not None:
            pts.append(point)
            values.append(vals)
            taken.add(j)
            if len(pts) == settings.points:
                return PointValues(outputs, pts, values, settings.dps, [],
                                   _in_bands(pts, values, band, defined), source=_ball_source(function))
    near = _fill_near_switch(candidates, taken, pts, values, with_draw, defined, straddled, settings.points)
    if len(pts) == settings.points:
        return PointValues(outputs, pts, values, settings.dps, near, source=_ball_source(function))
    raise DomainError(f"the model is undefined (or not real) at {len(candidates) - len(pts)} of "
                      f"{len(candidates)} random points in [{settings.low}, {settings.high}]; "
                      "set [audit] range to where it is defined")


def _in_bands(pts, values, band, defined) -> list[int]:
    """Move every other evidence point after the first inside a switching band (see
    :meth:`~derivaudit.audits.switching.SwitchingGuard.band_point`); returns the slots moved."""
    if band is None:
        return []
    moved = []
    for slot in range(1, len(pts), 2):
        candidate = band(pts[slot], slot)
        vals = None if candidate is None else defined(candidate)
        if vals is not None:
            pts[slot], values[slot] = candidate, vals
            moved.append(slot)
    return moved


def _fill_near_switch(candidates, taken, pts, values, with_draw, defined, straddled, count: int) -> list[int]:
    """Fill the slots no clear candidate took with the defined candidates straddling fewest switches.

    Returns the slots so filled (their finite differences may cross a switch).
    """
    if straddled is None:
        return []
    near = []
    for slot in range(len(pts), count):
        ranked = sorted((straddled(with_draw(c, slot)), j) for j, c in enumerate(candidates) if j not in taken)
        for _, j in ranked:
            point = with_draw(candidates[j], slot)
            vals = defined(point)
            if vals is not None:
                pts.append(point)
                values.append(vals)
                taken.add(j)
                near.append(slot)
                break
        else:
            break
    return near


class ExactPointFunction:
    """Outputs computed from the exact point itself (certified balls), not from its rounded coordinates."""

    def values(self, point, wp: int) -> list:  # pragma: no cover - the interface
        """The outputs at the exact ``point`` as mpmath numbers at ``wp`` digits (NaN where undefined)."""
        raise NotImplementedError

    def at_point(self, point, bits: int) -> list:  # pragma: no cover - the interface
        """The outputs at the exact ``point`` as balls, computed with at least ``bits`` bits."""
        raise NotImplementedError


def _ball_source(function) -> ExactPointFunction | None:
    return function if isinstance(function, ExactPointFunction) else None


def mp_values(function, point, wp: int) -> list:
    """``function`` at the exact ``point`` with ``wp`` digits: real mpf values (NaN where complex)."""
    if isinstance(function, ExactPointFunction):
        return function.values(point, wp)
    with mpmath.workdps(wp):
        args = [mpmath.mpf(v.p) / v.q for v in point]
        out = []
        for v in function(*args):
            if isinstance(v, mpmath.mpc):
                v = v.real if v.imag == 0 else mpmath.nan
            out.append(mpmath.mpf(v))
        return out


def in_parameter_layout(values: list, claim_shape, layout: str) -> list:
    """Claim entries arranged like the parameter's (a transposed claim transposed back)."""
    if layout == "transposed":
        return list(np.array(values, dtype=object).reshape(claim_shape).T.flat)
    return list(values)
