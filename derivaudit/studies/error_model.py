"""The float64 error model of a finite-difference scheme: truncation + roundoff.

A stencil ``D_ε f = ε⁻ᵈ Σ wᵢ f(x + oᵢε)`` of order ``p`` evaluated in IEEE
doubles (unit roundoff ``u = 2⁻⁵³``) has error about

    E(ε) = T·εᵖ + R/εᵈ + F

* **Truncation** ``T·εᵖ`` with ``T = |C·f⁽ᵈ⁺ᵖ⁾(x)|``: ``C`` is the stencil's
  leading error constant (from its Taylor moments) and the higher derivative
  is exact (sympy) at the point.  For a tensor stencil (mixed partial)
  ``T = |Σₖ Cₖ ∂ₖᵖ ∂ᵈ f|`` over the directions that attain the order.
* **Roundoff** ``R/εᵈ``.  Each sample ``f(x + oᵢε)`` is computed as
  ``f(x̂ᵢ)(1 + δᵢ)`` where ``x̂ᵢ = (x + oᵢε)(1 + ηᵢ)`` is the rounded argument
  and ``|δᵢ|, |ηᵢ| ≤ u`` (a correctly rounded, or nearly so, elementary
  function); its absolute error is ``≤ u·(|f| + |x|·|f'|)``, and nothing
  cancels it in the weighted sum.  Two statistics of that error:

  - ``"bound"``: ``R = u·Σ|wᵢ|·(|f(x)| + Σₖ|xₖ|·|∂ₖ f(x)|)``, every
    rounding at its worst and all of the same sign;
  - ``"typical"`` (the default): ``R = κ·u·√(Σwᵢ²)·√(|f|² + (Σₖ|xₖ∂ₖ f|)²)``
    with ``κ = √(2/π)/√3 ≈ 0.461``.  A rounding error is spread evenly over
    ``±u·|v|`` (standard deviation ``u·|v|/√3``), independent ones add in
    quadrature, and ``√(2/π)·σ`` is the mean magnitude of their
    (near-normal) sum.  This predicts where the measured V bottoms out; the
    bound lies above every measured error but puts the best step too far
    right by ``(bound/typical)^(1/(p+d))``, a factor 1.3–2.

  The best step depends on the constant only through its ``(p+d)``-th root.
* **Floor** ``F = κ·u·Σₖ|xₖ|·|∂ₖ f⁽ᵈ⁾(x)|`` (``κ = 1`` for the bound): the
  point itself is rounded to a double, which moves the value being
  approximated; a coordinate that is a double exactly (``1e6``, ``0.5``) is
  not rounded and adds nothing.  For the complex step ``Im f(x + iε)/ε`` no difference
  cancels, so ``R = 0`` and the floor also holds the rounding of the result,
  ``κ·u·|f'(x)|``.

Minimising ``T εᵖ + R ε⁻ᵈ`` gives the predicted best step and least error

    ε* = (d·R / (p·T))^(1/(p+d)),     E* = (1 + d/p)·R/ε*ᵈ + F.

For the complex step the error falls until ``T ε² = F`` and then stays at
``F``: ``ε* = √(F/T)`` is the largest step that reaches the floor, and
every smaller step does as well.  The model uses ``|f(x)|`` for every sample,
which holds for ``ε ≪ |f/f'|``; with ``T = 0`` (``f⁽ᵈ⁺ᵖ⁾(x) = 0``) the
leading truncation term vanishes and ``ε*`` is reported as infinite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from derivaudit.constants import UNIT_ROUNDOFF
from derivaudit.errors import DerivauditError, DomainError
from derivaudit.core.numeric import compile_formula, exact_value
from derivaudit.core.stencils import ComplexStep, Stencil, TensorStencil

__all__ = ["UNIT_ROUNDOFF", "ErrorModel", "float64_error_model"]


#: mean magnitude of a sum of independent roundings, per unit of their RMS size u/√3: √(2/π)/√3
TYPICAL = math.sqrt(2 / math.pi) / math.sqrt(3)
STATISTICS = ("typical", "bound")

#: digits the model's inputs are evaluated to (they are used as floats)
_MODEL_DPS = 20


@dataclass(frozen=True)
class ErrorModel:
    """``E(ε) = truncation·εᵖ + roundoff/εᵈ + floor`` for one scheme at one point."""

    scheme: str
    #: power ``d`` of 1/ε in the roundoff term: the derivative order, 0 for the complex step
    roundoff_power: int
    accuracy: int
    truncation: float
    roundoff: float
    floor: float

    def truncation_error(self, eps) -> np.ndarray:
        return self.truncation * np.asarray(eps, dtype=float) ** self.accuracy

    def roundoff_error(self, eps) -> np.ndarray:
        eps = np.asarray(eps, dtype=float)
        with np.errstate(over="ignore", divide="ignore"):
            return self.roundoff / eps ** self.roundoff_power + self.floor

    def error(self, eps) -> np.ndarray:
        """Predicted ``|D_ε f − f⁽ᵈ⁾|`` at each step."""
        return self.truncation_error(eps) + self.roundoff_error(eps)

    @property
    def best_eps(self) -> float:
        """The step of least predicted error (complex step: the largest such step)."""
        p, d = self.accuracy, self.roundoff_power
        if self.truncation == 0:
            return math.inf
        if self.roundoff == 0:
            return math.sqrt(self.floor / self.truncation) if self.floor > 0 else 0.0
        return (d * self.roundoff / (p * self.truncation)) ** (1 / (p + d))

    @property
    def min_error(self) -> float:
        """The predicted error at :attr:`best_eps`."""
        if self.roundoff == 0 or self.truncation == 0:
            return self.floor
        return (1 + self.roundoff_power / self.accuracy) * self.roundoff / self.best_eps ** self.roundoff_power \
            + self.floor


def _directions(wrt) -> tuple[sp.Symbol, ...]:
    return tuple(wrt) if isinstance(wrt, (tuple, list)) else (wrt,)


@lru_cache(maxsize=1024)
def _diff(expr: sp.Expr, *spec) -> sp.Expr:
    """``sympy.diff(expr, *spec)``, memoised: a high derivative of a large formula
    costs far more than the float64 sweep that needs it, and sweeps repeat."""
    return sp.diff(expr, *spec)


@lru_cache(maxsize=1024)
def _combination(expr: sp.Expr, directions: tuple, leading: tuple) -> sp.Expr:
    """``Σ c·∂ᵏ expr`` over the leading error terms ``(c, k)``, memoised: building it
    with sympy arithmetic costs more than evaluating it."""
    return sum(c * _diff(expr, *[(v, n) for v, n in zip(directions, k) if n]) for c, k in leading)


def _is_double(value) -> bool:
    """True when the exact number ``value`` is a float64 exactly (no rounding on input)."""
    try:
        return sp.Rational(float(value)) == value
    except (TypeError, ValueError, OverflowError):
        return False


def float64_error_model(expr: sp.Expr, wrt, point: Mapping[sp.Symbol, sp.Expr],
                        st: Stencil | TensorStencil | ComplexStep, unit_roundoff: float = UNIT_ROUNDOFF,
                        statistic: str = "typical", values: dict | None = None) -> ErrorModel:
    """The :class:`ErrorModel` of scheme ``st`` for ``expr`` at the exact ``point``.

    ``wrt`` is the variable (or, for a tensor stencil, the tuple of variables,
    one per factor).  Derivatives are exact (sympy) and evaluated at
    :data:`_MODEL_DPS` digits; raises :class:`~derivaudit.errors.DomainError`
    where one of them is undefined.  ``statistic`` is ``"typical"`` (mean
    roundoff) or ``"bound"`` (worst-case roundoff), see the module text.
    ``values``, a dict the caller keeps for one point, memoises the
    derivatives' values: the schemes of one study share ``f``, ``f'`` and
    most of their higher derivatives.
    """
    if statistic not in STATISTICS:
        raise DerivauditError(f"statistic must be one of {', '.join(STATISTICS)}, not {statistic!r}")
    if st.accuracy < 1:  # a user's inconsistent stencil: its error never falls, so no V and no best step
        raise DerivauditError(f"{st.name} does not approximate the derivative (order {st.accuracy}); "
                              "the error model needs a consistent stencil")
    typical = statistic == "typical"
    directions = _directions(wrt)
    variables = tuple(point)

    memo = {} if values is None else values

    def at(e: sp.Expr) -> float:
        if e not in memo:
            try:
                memo[e] = abs(float(exact_value(compile_formula(e, variables), point, _MODEL_DPS)))
            except (TypeError, NameError, AttributeError) as exc:
                raise DomainError(f"the error model cannot evaluate {e} ({exc})") from None
        return memo[e]

    def diff(counts: Sequence[int]) -> sp.Expr:
        return _diff(expr, *[(v, c) for v, c in zip(directions, counts) if c])

    counts = st.counts
    if len(counts) != len(directions):
        raise DerivauditError(f"{len(counts)} stencil directions but {len(directions)} variables")
    leading = st.leading_terms()
    weights = st.roundoff_weights()
    u = unit_roundoff * (TYPICAL if typical else 1.0)

    def combine(a: float, b: float) -> float:
        return math.hypot(a, b) if typical else a + b

    target = diff(counts)
    truncation = at(_combination(expr, directions, tuple(leading)))
    xs = [abs(float(point[v])) for v in directions]
    # the point moves only where float64 rounds it (1e6 and 0.5 are doubles; 0.1 is not)
    moved = sum(x * at(_diff(target, v)) for x, v in zip(xs, directions)
                if x and not _is_double(point[v]))
    if not st.roundoff_power:  # nothing cancels (the complex step): the result's rounding is the floor
        roundoff, floor = 0.0, u * combine(at(target), moved)
    else:
        floor = u * moved
        sample = combine(at(expr), sum(x * at(_diff(expr, v)) for x, v in zip(xs, directions) if x))
        spread = math.sqrt(float(sum(w * w for w in weights))) if typical else float(sum(abs(w) for w in weights))
        roundoff = u * spread * sample
    return ErrorModel(st.name, st.roundoff_power, st.accuracy, truncation, roundoff, floor)
