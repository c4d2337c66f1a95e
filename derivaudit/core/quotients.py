"""Certified difference quotients: the approximation, the exact value and the error as balls.

A study reports, for each scheme and step, the difference quotient
``D_ε f = ε⁻ᵈ Σ wᵢ f(x + oᵢε)`` (or ``Im f(x + iε)/ε``), the exact derivative
``f⁽ᵈ⁾(x)`` and the error ``D_ε f − f⁽ᵈ⁾(x)``.  Here each is an ``arb`` ball
(:mod:`derivaudit.core.balls`), and a cell is *certified* when

* the approximation and the exact value each have ``dps`` significant digits
  (:func:`~derivaudit.core.certify.certifying_bits`, the one rule), and
* the error is proved smaller than the resolution ``10⁻ᵈᵖˢ·|f⁽ᵈ⁾(x)|`` and is
  reported as 0 — two numbers known to ``dps`` digits cannot tell a smaller
  difference from zero — or else it has ``dps`` significant digits.
* When the exact derivative is exactly 0, digits relative to it mean nothing:
  the error is the approximation itself (the same ball).  Its criterion is
  **absolute**: the quotient (so the error) reads 0 only when its ball
  contains 0 and is proved smaller than ``10⁻ᵈᵖˢ·Σ|wᵢ f(x + oᵢε)|/εᵈ``, the
  size of its own terms; a ball that excludes 0 is certified to ``dps``
  significant digits and printed, never as 0.

The digits printed from these balls are their correctly rounded decimals
(:mod:`derivaudit.core.rounding`; the study raises a cell's precision until
its balls decide the rounding).

The working precision of a step is first predicted — ``dps`` digits, plus
``(d + p)·log2(1/ε)`` bits for the digits the quotient and its error cancel,
plus ``log2|x|`` bits for the point's own size — and a cell whose balls fall
short is computed again at the precision its radius says is missing (doubled
when a ball straddles 0).  Samples and the exact value are shared between the
schemes of a step only as balls: a shared ball is as certified as a fresh one.
Past the :class:`~derivaudit.limits.Limits` precision cap,
:class:`~derivaudit.errors.LimitExceeded` names the number that could not be
certified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import reduce
from operator import is_
from typing import NamedTuple

import sympy as sp
from flint import acb, arb, ctx, fmpq

from derivaudit.budgets import checkpoint
from derivaudit.core.balls import BallFormula, ball_precision, compile_balls, digits_to_bits, exact_ball
from derivaudit.core.certify import certifying_bits, explain_failure
from derivaudit.core.guards import under_limits
from derivaudit.errors import DomainError, LimitExceeded
from derivaudit.limits import DEFAULT_LIMITS, Limits

__all__ = ["Cell", "BallSamples", "quotient_ball", "StepCertifier", "predicted_bits", "step_bits", "float_errors"]

_ZERO = arb(0)


class Cell(NamedTuple):
    """One certified row of a study: the balls of ``D_ε f``, ``f⁽ᵈ⁾`` and their difference.

    ``below_resolution`` says the error was proved below the resolution (and
    is reported as 0); ``approx_below_resolution`` the same of a quotient whose
    exact value is 0.  A named tuple: a study makes one per row, and a tuple is
    the cheapest object Python builds.
    """

    approx: object
    exact: object
    error: object
    below_resolution: bool
    approx_below_resolution: bool
    bits: int


def _as_fmpq(value):
    """An exact rational as flint's ``fmpq`` (None for an irrational point such as pi/4)."""
    if isinstance(value, sp.Rational):
        return fmpq(int(value.p), int(value.q))
    return None


def _point_ball(coordinate, value, shift):
    """``value + shift`` as a ball, rounded once: ``coordinate`` is ``value`` as an
    ``fmpq`` (None when irrational), ``shift`` an ``fmpq`` or 0."""
    if coordinate is not None:
        return arb(coordinate + shift if shift else coordinate)
    return exact_ball(value) + (arb(shift) if shift else 0)


class BallSamples:
    """Values of one formula near one point as balls, memoised by shift and precision.

    ``value(shift, bits)`` is ``f(point + shift·e)`` (``e`` the direction, or
    one shift per direction of a mixed partial) at ``bits`` bits; a ball
    computed at more bits serves a request for fewer.  Shifts are exact
    rationals and are added to the exact point before rounding.
    """

    def __init__(self, formula: BallFormula, directions: Sequence[sp.Symbol],
                 point: Mapping[sp.Symbol, sp.Expr], limits: Limits = DEFAULT_LIMITS):
        self.formula = formula
        self.point = dict(point)
        self.directions = tuple(directions)
        self.indices = tuple(formula.variables.index(v) for v in self.directions)
        self._rational = {v: _as_fmpq(value) for v, value in self.point.items()}
        self.limits = limits
        self._base: dict[int, list] = {}
        #: shift key → (bits, ball) of each sample computed so far
        self.memo: dict[object, tuple[int, object]] = {}
        self._complex: BallFormula | None = None
        self.evaluations = 0
        #: (argument index, coordinate as fmpq or None, exact coordinate) of the one direction
        #: (looked up once: hashing a sympy symbol per sample costs more than the sample's point)
        v = self.directions[0] if len(self.directions) == 1 else None
        self._along = None if v is None else (self.indices[0], self._rational[v], self.point[v])

    def _base_at(self, bits: int) -> list:
        """The unshifted point's coordinates as balls at ``bits`` (made once per precision)."""
        base = self._base.get(bits)
        if base is None:
            base = self._base[bits] = [_point_ball(self._rational[v], self.point[v], 0)
                                       for v in self.formula.variables]
        return base

    def arguments(self, shifts: tuple, bits: int) -> list:
        args = list(self._base_at(bits))
        for i, v, s in zip(self.indices, self.directions, shifts):
            if s:
                args[i] = _point_ball(self._rational[v], self.point[v], s)
        return args

    def _arguments_along(self, shift, bits: int) -> list:
        """:meth:`arguments` for one direction and one shift (the common case, without the loop)."""
        base = self._base.get(bits)
        if base is None:
            return self.arguments((shift,), bits)
        args = list(base)
        if shift:
            index, coordinate, value = self._along
            args[index] = _point_ball(coordinate, value, shift)
        return args

    def value(self, key, shift, bits: int):
        """The ball of the sample at ``shift`` (an ``fmpq``, or a tuple of them), memoised
        under ``key`` (hashing an ``fmpq`` is slow); None when it is not finite at
        ``bits`` (more precision may help), DomainError when no precision can."""
        hit = self.memo.get(key)
        if hit is not None and hit[0] >= bits:
            return hit[1]
        if isinstance(shift, tuple) or self._along is None:
            args = self.arguments(shift if isinstance(shift, tuple) else (shift,), bits)
        else:
            args = self._arguments_along(shift, bits)
        value = self.formula(*args)
        self.evaluations += 1
        if not value.is_finite():
            self._explain(args, shift if isinstance(shift, tuple) else (shift,))
            return None
        self.memo[key] = (bits, value)
        return value

    def values(self, needed, bits: int) -> list:
        """:meth:`value` of each ``(key, shift)`` of ``needed``, in order: a step's samples
        in one loop (the one-direction case inlined, the same balls as :meth:`value`)."""
        if self._along is None:
            return [self.value(key, shift, bits) for key, shift in needed]
        base = self._base_at(bits)
        index, coordinate, exact = self._along
        memo, run, out, single = self.memo, self.formula.run, [], len(base) == 1
        for key, shift in needed:
            hit = memo.get(key)
            if hit is not None and hit[0] >= bits:
                out.append(hit[1])
                continue
            if isinstance(shift, tuple):
                out.append(self.value(key, shift, bits))
                continue
            args = list(base)
            if shift:
                args[index] = arb(coordinate + shift) if coordinate is not None else _point_ball(None, exact, shift)
            value = run(args[0]) if single else run(*args)
            self.evaluations += 1
            if value.is_finite():
                memo[key] = (bits, value)
            else:
                self._explain(args, (shift,))
                value = None
            out.append(value)
        return out

    def _explain(self, args, shifts) -> None:
        moved = {**self.point, **{v: self.point[v] + sp.Rational(int(s.p), int(s.q))
                                  for v, s in zip(self.directions, shifts)}}
        where = "at " + ", ".join(f"{v.name}={p}" for v, p in moved.items())
        try:
            explain_failure(self.formula, args, where, self.limits)
        except DomainError:
            raise DomainError(f"the formula is undefined or not real {where}, a point the stencil "
                              "needs; use a smaller step or another point") from None

    def complex_value(self, eps: sp.Rational, bits: int):
        """``f(x + iε)`` as an ``acb`` (the complex step), or None when not finite."""
        if self._complex is None:
            self._complex = compile_balls(self.formula.expr, self.formula.variables, complex=True)
        base = self.arguments((), bits)
        args = [acb(a) for a in base]
        i = self.indices[0]
        args[i] = acb(base[i], arb(fmpq(int(eps.p), int(eps.q))))
        value = self._complex(*args)
        self.evaluations += 1
        if not value.is_finite():
            return None
        return value


#: (id(stencil), ε) → (stencil, terms as (shift, integer weight), common denominator · ε^d)
_TERMS: dict[tuple[int, int, int], tuple] = {}


def _terms(st, eps: sp.Rational) -> tuple:
    """The stencil's terms at ``ε`` with integer weights over one denominator,
    cached by the stencil's identity (hashing a stencil costs more than the lookup)."""
    key = (id(st), eps.p, eps.q)
    hit = _TERMS.get(key)
    if hit is not None and hit[0] is st:
        return hit[1], hit[2]
    terms = st.terms()
    denominator = reduce(math.lcm, (int(w.q) for _, w in terms), 1)
    scaled = tuple((_shift_key(offset, eps), _shift(offset, eps), int(w.p) * (denominator // int(w.q)))
                   for offset, w in terms)
    divisor = fmpq(denominator * int(eps.p) ** st.derivative, int(eps.q) ** st.derivative)
    if len(_TERMS) >= 4096:
        _TERMS.clear()
    _TERMS[key] = (st, scaled, divisor)
    return scaled, divisor


def _shift_key(offset, eps: sp.Rational) -> tuple:
    """A cheap hashable key of the shift ``offset · ε`` (one offset, or a tuple of them)."""
    offsets = offset if isinstance(offset, tuple) else (offset,)
    return tuple(((o * eps).p, (o * eps).q) for o in offsets)


def _shift(offset, eps: sp.Rational):
    """``offset · ε`` as an ``fmpq`` (a tuple of them for a tensor stencil)."""
    if isinstance(offset, tuple):
        return tuple(_as_fmpq(o * eps) for o in offset)
    return _as_fmpq(offset * eps)


def quotient_ball(samples: BallSamples, st, eps: sp.Rational, bits: int, scaled: bool = True):
    """``D_ε f`` as a ball at ``bits`` bits (the current flint precision must be ``bits``),
    and (when ``scaled``) the scale ``Σ|wᵢ fᵢ|/εᵈ`` of its terms; ``(None, None)`` when a
    sample is not finite."""
    if st.complex_samples:
        value = samples.complex_value(eps, bits)
        if value is None:
            return None, None
        step = arb(fmpq(int(eps.p), int(eps.q)))
        result = value.imag / step
        return result, abs(result)
    terms, divisor = _terms(st, eps)
    values = []
    for key, shift, _ in terms:
        value = samples.value(key, shift, bits)
        if value is None:
            return None, None
        values.append(value)
    return _weighted_sum(values, range(len(values)), terms, divisor, scaled)


def _weighted_sum(values, positions, terms, divisor, scaled: bool) -> tuple:
    """``Σ wᵢ fᵢ / divisor`` and (when ``scaled``) ``Σ|wᵢ fᵢ| / divisor``, in the terms' order,
    ``fᵢ`` being ``values[positions[i]]``; ``(None, None)`` when one of them is None (not finite)."""
    total = arb(0)
    scale = arb(0) if scaled else None
    for i, term in zip(positions, terms):
        value = values[i]
        if value is None:
            return None, None
        part = value * term[2]
        total += part
        if scaled:
            scale += abs(part)
    divisor = arb(divisor)
    return total / divisor, (scale / divisor if scaled else None)


#: (ids of the stencils, ε) → (stencils, distinct sample keys and shifts, each stencil's terms,
#: divisor, the positions of its samples among the distinct ones, (position, weight) pairs, and
#: its divisor as a ball by precision)
_PLANS: dict[tuple, tuple] = {}


def _step_plan(stencils, eps: sp.Rational) -> tuple:
    """The distinct samples every real stencil of a step needs, in order of first use
    (so a failing sample is reported as the stencil-by-stencil order would), and per
    stencil its terms, divisor and sample positions (None for the complex step)."""
    key = (tuple(map(id, stencils)), eps.p, eps.q)
    hit = _PLANS.get(key)
    if hit is not None and all(map(is_, hit[0], stencils)):
        return hit[1], hit[2]
    positions: dict = {}
    samples = []
    per_stencil = []
    for st in stencils:
        if st.complex_samples:
            per_stencil.append(None)
            continue
        terms, divisor = _terms(st, eps)
        for sample_key, shift, _ in terms:
            if sample_key not in positions:
                positions[sample_key] = len(samples)
                samples.append((sample_key, shift))
        places = tuple(positions[k] for k, _, _ in terms)
        # the weights also as exact balls: ball × ball is what ball × int computes, without
        # converting the int at every product; the divisor as a ball, by precision (the same
        # rounding arb(divisor) makes at that precision), filled by _step_tries
        per_stencil.append((terms, divisor, places, tuple(zip(places, (arb(w) for _, _, w in terms))), {}))
    if len(_PLANS) >= 4096:
        _PLANS.clear()
    _PLANS[key] = (tuple(stencils), tuple(samples), per_stencil)
    return tuple(samples), per_stencil


def predicted_bits(dps: int, st, eps: sp.Rational, magnitude_bits: int) -> int:
    """Working precision expected to certify a cell: ``dps`` digits, ``d·log2(1/ε)`` bits
    for what the quotient cancels, ``p·log2(1/ε)`` for what its error cancels (no more
    than an error at the resolution needs), and the point's size."""
    return step_bits(dps, (st,), eps, magnitude_bits)


def step_bits(dps: int, stencils, eps: sp.Rational, magnitude_bits: int) -> int:
    """The most :func:`predicted_bits` of any of ``stencils`` at ``eps``: the precision of
    a step, whose samples the stencils share."""
    digits = digits_to_bits(dps)
    p, q = int(eps.p), int(eps.q)
    cancel = 0
    if p < q:
        log_step = q.bit_length() - p.bit_length() + 1
        # an error below the resolution 10^-dps·|f⁽ᵈ⁾| needs no digits of its own
        cancel = max(st.derivative * log_step + min(st.accuracy * log_step, digits + 8) for st in stencils)
    return digits + 24 + cancel + max(0, magnitude_bits)


def _accurate(ball, need_bits: float) -> bool:
    return ball.is_exact() or ball.rel_accuracy_bits() >= need_bits


def _missing_bits(ball, need_bits: float) -> int:
    """Bits a ball lacks for ``need_bits`` of relative accuracy (a doubling's worth if unknown)."""
    if ball.is_exact():
        return 0
    if not ball.is_finite() or ball.contains(0):
        return -1
    return max(0, int(need_bits - ball.rel_accuracy_bits()) + 1)


class StepCertifier:
    """Certifies the cells of one study: every scheme at every step, against one exact value.

    ``exact`` is a :class:`BallFormula` of the exact derivative; its balls are
    kept at the highest precision computed so far, which serves every cell.
    ``exact`` None (no derivative at the point) certifies the quotients alone.
    """

    def __init__(self, samples: BallSamples, exact: BallFormula, point, dps: int,
                 limits: Limits = DEFAULT_LIMITS, exact_is_zero=None):
        self.samples = samples
        self.exact_formula = exact
        self.point = point
        self.dps = dps
        self.limits = limits
        self.need = certifying_bits(dps)
        self._exact: tuple[int, object] | None = None
        self._exact_is_zero = exact_is_zero
        self._short = 0
        self.cap = digits_to_bits(limits.max_dps) + 64
        self.magnitude_bits = max((_magnitude_bits(point[v]) for v in samples.directions), default=0)

    def exact_at(self, bits: int) -> tuple:
        """The exact derivative's ball at ``bits`` or more (the most precise computed so far),
        and the resolution ``10⁻ᵈᵖˢ·|f⁽ᵈ⁾|`` (None when the derivative is 0)."""
        if self._exact is not None and self._exact[0] >= bits:
            return self._exact[1:]
        value = self.exact_formula(*self.exact_formula.arguments(self.point))
        if not value.is_finite():
            explain_failure(self.exact_formula, self.exact_formula.arguments(self.point),
                            _where(self.point), self.limits)
        elif value.contains(0) and not value.is_zero() and self._exact_is_zero is not None:
            if self._exact_is_zero():  # exactly zero through irrational steps: sympy proved it
                value = arb(0)
            self._exact_is_zero = None
        resolution = None if value.is_zero() else abs(value) * arb(10) ** -self.dps
        self._exact = (bits, value, resolution)
        return value, resolution

    @under_limits("evaluating a difference quotient")
    def cell(self, st, eps: sp.Rational, limits: Limits = DEFAULT_LIMITS, bits: int = 0) -> Cell:
        """The certified cell of scheme ``st`` at step ``eps``, starting at ``bits``
        (default: :func:`predicted_bits`)."""
        return self._certify(st, eps, bits or predicted_bits(self.dps, st, eps, self.magnitude_bits))

    @under_limits("evaluating difference quotients")
    def step_cells(self, stencils, eps: sp.Rational, limits: Limits = DEFAULT_LIMITS, bits: int = 0) -> list:
        """The certified cells of every scheme at step ``eps``: one precision for the step
        (the most any scheme is predicted to need), so the schemes share their samples;
        a scheme that falls short goes on alone at the precision it lacks."""
        bits = max(64, bits or step_bits(self.dps, stencils, eps, self.magnitude_bits))
        needed, plans = _step_plan(stencils, eps)
        saved, ctx.prec = ctx.prec, bits  # ball_precision(bits), without the object
        try:
            # whether a quotient needs the scale of its terms (no exact value, or an exact 0);
            # the exact value first, as the first stencil's _try would compute it
            exact = self.exact_at(bits) if self.exact_formula is not None else None
            scaled = exact is None or exact[1] is None
            # None for a sample that is not finite: a stencil needing it falls short
            values = self.samples.values(needed, bits)
            if scaled or not (exact[0].is_exact() or exact[0].rel_accuracy_bits() >= self.need):
                # a plan is (terms, divisor, sample positions, ...); None for the complex step
                cells = [self._try(st, eps, bits, plan and _weighted_sum(values, plan[2], plan[0], plan[1],
                                                                         scaled))[0]
                         for st, plan in zip(stencils, plans)]
            else:
                cells = self._step_tries(stencils, eps, bits, plans, values)
        finally:
            ctx.prec = saved
        if None not in cells:
            return cells
        # every stencil is tried before any is retried: the retries start from the last shortfall
        return [cell if cell is not None else self._certify(st, eps, self._next_bits(bits))
                for cell, st in zip(cells, stencils)]

    def _step_tries(self, stencils, eps, bits: int, plans, values) -> list:
        """:meth:`_try` of every stencil of a step, inlined for the common case: an exact
        value certified at ``bits`` and not 0 (so a resolution, and no terms' scale).
        The same balls and decisions; a stencil that falls short is None."""
        exact, resolution = self.exact_at(bits)
        need, zero, cells, new_cell = self.need, _ZERO, [], tuple.__new__  # Cell(...) without its __new__
        for st, plan in zip(stencils, plans):
            if plan is None:  # the complex step
                cells.append(self._try(st, eps, bits)[0])
                continue
            total = zero
            for i, weight in plan[3]:
                value = values[i]
                if value is None:
                    break
                total += value * weight
            else:
                divisors = plan[4]
                divisor = divisors.get(bits)
                if divisor is None:
                    if len(divisors) > 16:
                        divisors.clear()
                    divisor = divisors[bits] = arb(plan[1])  # rounded at ctx.prec, which is bits
                approx = total / divisor
                if approx.rel_accuracy_bits() < need and not approx.is_exact():
                    self._short = _missing_bits(approx, need)
                    cells.append(None)
                    continue
                error = approx - exact
                below = abs(error) < resolution  # documented: such errors read 0
                if not below and error.rel_accuracy_bits() < need and not error.is_exact():
                    self._short = _missing_bits(error, need)
                    cells.append(None)
                    continue
                cells.append(new_cell(Cell, (approx, exact, error, below, False, bits)))
                continue
            self._short = -1  # a sample is not finite
            cells.append(None)
        return cells

    def _next_bits(self, bits: int) -> int:
        return min(self.cap, bits * 2 if self._short < 0 else max(bits + self._short + 16, bits * 5 // 4))

    def _certify(self, st, eps: sp.Rational, bits: int) -> Cell:
        bits = max(bits, 64)
        while True:
            checkpoint()
            with ball_precision(bits):
                cell, missing = self._try(st, eps, bits)
            if cell is not None:
                return cell
            if bits >= self.cap:
                raise LimitExceeded(f"the {missing} of {st.name} at step {eps} cannot be certified to "
                                    f"{self.dps} digits within the precision limit of "
                                    f"{self.limits.max_dps} digits (Limits.max_dps)")
            bits = self._next_bits(bits)

    def _try(self, st, eps, bits, quotient=None):
        """(cell, None) when certified at ``bits``; else (None, the name of the number short).
        ``quotient`` is ``(approx, scale)`` when already computed (see :meth:`step_cells`)."""
        if self.exact_formula is not None:
            exact, resolution = self.exact_at(bits)
        if quotient is not None:
            approx, scale = quotient
        else:
            approx, scale = quotient_ball(self.samples, st, eps, bits,
                                          scaled=self.exact_formula is None or resolution is None)
        if approx is None:
            self._short = -1
            return None, "difference quotient"
        need = self.need
        if self.exact_formula is None:  # no exact derivative (a kink): the quotient alone
            if _accurate(approx, need):
                return Cell(approx, None, None, False, False, bits), None
            if approx.contains(0) and abs(approx) < scale * arb(10) ** -self.dps:
                return Cell(approx, None, None, False, True, bits), None
            self._short = _missing_bits(approx, need)
            return None, "difference quotient"
        if not (exact.is_exact() or exact.rel_accuracy_bits() >= need):
            self._short = _missing_bits(exact, need)
            return None, "exact derivative"
        if resolution is None:  # the exact derivative is 0: the quotient's own scale
            resolution = scale * arb(10) ** -self.dps
        approx_below = False
        if approx.rel_accuracy_bits() < need and not approx.is_exact():
            if resolution is not None and exact.is_zero() and approx.contains(0) and abs(approx) < resolution:
                approx_below = True
            else:
                self._short = _missing_bits(approx, need)
                return None, "difference quotient"
        error = approx - exact
        # documented: such errors read 0; the error of an exact 0 is the quotient itself, which
        # reads 0 only under the absolute criterion (so never when its ball excludes 0)
        below = approx_below if exact.is_zero() else abs(error) < resolution
        if not below and error.rel_accuracy_bits() < need and not error.is_exact():
            self._short = _missing_bits(error, need)
            return None, "error"
        return Cell(approx, exact, error, below, approx_below, bits), None


def _magnitude_bits(value) -> int:
    """``log2|value|`` rounded up, 0 for 0 (how many bits the point's size takes)."""
    if isinstance(value, sp.Rational):
        if value == 0:
            return 0
        return int(abs(value.p)).bit_length() - int(value.q).bit_length() + 1
    try:
        return max(0, int(math.ceil(math.log2(abs(float(value)) or 1))) + 1)
    except (OverflowError, ValueError, TypeError):
        return 0


def _where(point) -> str:
    return "at " + ", ".join(f"{v.name}={p}" for v, p in point.items())


@under_limits("evaluating the exact derivative")
def float_errors(exact: BallFormula, point, values: Sequence[float], dps: int,
                 limits: Limits = DEFAULT_LIMITS, exact_is_zero=None) -> tuple:
    """The exact value's ball and each ``value − exact`` certified to ``dps`` digits.

    Returns ``(exact ball, [(error ball, radius), ...])``; an error proved below
    the resolution ``10⁻ᵈᵖˢ·|exact|`` is ``(None, bound on |error|)``: a
    float64 result that is the exact value reports error 0, not the rounding
    noise of the exact value.
    """
    need = certifying_bits(dps)
    bits = digits_to_bits(dps) + 96
    cap = digits_to_bits(limits.max_dps) + 64
    where = _where(point)
    while True:
        with ball_precision(bits):
            args = exact.arguments(point)
            value = exact(*args)
            if not value.is_finite():
                explain_failure(exact, args, where, limits)
            elif value.contains(0) and not value.is_zero() and exact_is_zero is not None:
                if exact_is_zero():
                    value = arb(0)
                exact_is_zero = None
            out = _float_errors_at(value, values, need, dps) if _accurate(value, need) else None
            if out is not None:
                return value, out
        if bits >= cap:
            raise LimitExceeded(f"the exact derivative {where} cannot be certified to {dps} digits "
                                f"within the precision limit of {limits.max_dps} digits (Limits.max_dps)")
        bits = min(cap, 2 * bits)


def _float_errors_at(exact, values, need: float, dps: int) -> list | None:
    resolution = abs(exact) * arb(10) ** -dps
    out = []
    for v in values:
        error = arb(v) - exact
        if abs(error) < resolution:
            out.append((None, abs(error).abs_upper()))
        elif _accurate(error, need):
            out.append((error, error.rad()))
        else:
            return None
    return out
