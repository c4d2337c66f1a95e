"""Finite-difference stencils with exact rational weights.

A stencil approximates the ``d``-th derivative of ``f`` at ``x`` by

    D_ε f(x) = ε⁻ᵈ · Σᵢ wᵢ f(x + oᵢ ε)

with integer offsets ``oᵢ`` and rational weights ``wᵢ`` from
:func:`sympy.finite_diff_weights` (Fornberg's algorithm).  Taylor expansion
gives the truncation error

    D_ε f(x) − f⁽ᵈ⁾(x) = Σ_{k>d} mₖ/k! · f⁽ᵏ⁾(x) · εᵏ⁻ᵈ,   mₖ = Σᵢ wᵢ oᵢᵏ,

so the stencil's order of accuracy ``p`` is ``k − d`` for the first ``k > d``
with a non-zero moment ``mₖ``, and ``mₖ/k!`` is its leading error constant.
Both are computed exactly here rather than assumed from the stencil's name.

Scheme names: ``forward``, ``backward``, ``centered`` (accuracy 1, 1, 2) and
the same with an accuracy suffix, e.g. ``forward2``, ``centered4``, ``centered6``;
``richardson-<scheme>`` (Richardson extrapolation of any of them, see
:func:`richardson`) and ``complex-step`` (see :class:`ComplexStep`).
Mixed partials use the tensor product of one stencil per variable
(:class:`TensorStencil`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import sympy as sp

from derivaudit.errors import DerivauditError

__all__ = ["Stencil", "ComplexStep", "TensorStencil", "forward", "backward", "centered", "richardson",
           "complex_step", "tensor_stencil", "stencil", "MAX_POINTS", "leading_moment"]

_SCHEME_NAME = re.compile(r"^(forward|backward|centered)(\d*)$")
#: longest stencil built on request (or accepted from a user); far beyond any useful accuracy
MAX_POINTS = 41


@dataclass(frozen=True)
class Stencil:
    """A finite-difference formula for the ``derivative``-th derivative.

    ``offsets`` and ``weights`` are exact sympy Rationals/Integers;
    ``accuracy`` is the order ``p`` of the truncation error O(εᵖ);
    ``error_constant`` is ``C`` in ``D_ε f − f⁽ᵈ⁾ ≈ C · f⁽ᵈ⁺ᵖ⁾ · εᵖ``.
    """

    name: str
    derivative: int
    offsets: tuple[sp.Rational, ...]
    weights: tuple[sp.Rational, ...]
    accuracy: int
    error_constant: sp.Rational

    #: samples ``f`` at complex points (so needs ``f`` analytic): False for real sums
    complex_samples: ClassVar[bool] = False

    @property
    def points(self) -> int:
        """Number of function evaluations (offsets with a non-zero weight)."""
        return sum(1 for w in self.weights if w != 0)

    @property
    def counts(self) -> tuple[int, ...]:
        """Derivative order along each direction (one direction)."""
        return (self.derivative,)

    @property
    def roundoff_power(self) -> int:
        """``d`` in the roundoff ``∝ u/εᵈ`` the weighted sum amplifies."""
        return self.derivative

    def terms(self) -> list[tuple[sp.Rational, sp.Rational]]:
        """``(offset, weight)`` pairs with non-zero weight."""
        return [(o, w) for o, w in zip(self.offsets, self.weights) if w != 0]

    def roundoff_weights(self) -> list[sp.Rational]:
        """The weights whose samples' rounding errors add up in the quotient."""
        return [w for _, w in self.terms()]

    def leading_terms(self) -> list[tuple[sp.Rational, tuple[int, ...]]]:
        """``(C, (d + p,))``: the leading error term ``C εᵖ f⁽ᵈ⁺ᵖ⁾`` (as :class:`TensorStencil`)."""
        return [(self.error_constant, (self.derivative + self.accuracy,))]

    def formula(self, f: str = "f", x: str = "x", eps: str = "ε") -> str:
        """Human-readable form, e.g. ``(f(x + ε) - f(x - ε))/(2ε)``."""
        e, X = sp.Symbol(eps), sp.Symbol(x)
        F = sp.Function(f)
        total = sum(w * F(X + o * e) for o, w in self.terms())
        return str(total / e ** self.derivative)


def leading_moment(offsets, weights, derivative):
    """First non-zero Taylor moment past the derivative: ``(k, mₖ/k!)``, ``mₖ = Σ wᵢ oᵢᵏ``.

    ``k − derivative`` is the stencil's order of accuracy and ``mₖ/k!`` its
    leading error constant (see the module text).
    """
    for k in range(derivative + 1, derivative + 2 * len(offsets) + 2):
        moment = sum(w * o ** k for o, w in zip(offsets, weights))
        if moment != 0:
            return k, sp.Rational(moment) / sp.factorial(k)
    raise DerivauditError("stencil is exact for all polynomials; it cannot be a finite difference")


def _from_weights(name: str, derivative: int, offsets, weights) -> Stencil:
    """A Stencil from exact offsets and weights; order and constant from its moments."""
    for k in range(derivative):
        if sum(w * o ** k for o, w in zip(offsets, weights)) != 0:
            raise DerivauditError(f"offsets {tuple(offsets)} do not give a derivative of order {derivative}")
    if sum(w * o ** derivative for o, w in zip(offsets, weights)) != sp.factorial(derivative):
        raise DerivauditError(f"weights {tuple(weights)} are not normalised for derivative {derivative}")
    k, constant = leading_moment(offsets, weights, derivative)
    return Stencil(name, derivative, tuple(offsets), tuple(weights), k - derivative, constant)


@lru_cache(maxsize=None)
def _build(name: str, derivative: int, offsets: tuple[int, ...]) -> Stencil:
    grid = [sp.Integer(o) for o in offsets]
    weights = tuple(sp.Rational(w) for w in sp.finite_diff_weights(derivative, grid, 0)[derivative][-1])
    return _from_weights(name, derivative, grid, weights)


def _check(derivative: int, accuracy: int) -> None:
    for label, value in (("derivative order", derivative), ("accuracy", accuracy)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise DerivauditError(f"{label} must be a whole number ≥ 1, not {value!r}")
    if derivative + accuracy > MAX_POINTS:
        raise DerivauditError(f"a stencil for derivative {derivative} with accuracy {accuracy} "
                              f"needs more than {MAX_POINTS} points")


def forward(derivative: int = 1, accuracy: int = 1) -> Stencil:
    """One-sided stencil on offsets ``0, 1, …, d+p−1``: error O(εᵖ).

    ``forward(1, 1)`` is ``(f(x+ε) − f(x))/ε`` with error ``ε/2 · f''(x)``.
    """
    _check(derivative, accuracy)
    suffix = "" if accuracy == 1 else str(accuracy)
    return _build(f"forward{suffix}", derivative, tuple(range(derivative + accuracy)))


def backward(derivative: int = 1, accuracy: int = 1) -> Stencil:
    """Mirror image of :func:`forward`: offsets ``−(d+p−1), …, 0``."""
    _check(derivative, accuracy)
    suffix = "" if accuracy == 1 else str(accuracy)
    return _build(f"backward{suffix}", derivative, tuple(range(-(derivative + accuracy) + 1, 1)))


def centered(derivative: int = 1, accuracy: int = 2) -> Stencil:
    """Symmetric stencil on ``−m, …, m``: error O(εᵖ), ``p`` even.

    ``m = ⌊(d+1)/2⌋ + p/2 − 1``; ``centered(1, 2)`` is
    ``(f(x+ε) − f(x−ε))/(2ε)`` with error ``ε²/6 · f'''(x)``.
    """
    _check(derivative, accuracy)
    if accuracy % 2:
        raise DerivauditError(f"centered stencils have even accuracy; {accuracy} is odd")
    m = (derivative + 1) // 2 + accuracy // 2 - 1
    suffix = "" if accuracy == 2 else str(accuracy)
    return _build(f"centered{suffix}", derivative, tuple(range(-m, m + 1)))


def richardson(base: Stencil, ratio=2) -> Stencil:
    """Richardson extrapolation of ``base`` with step ratio ``r``, as a stencil.

    With ``D_ε f = f⁽ᵈ⁾ + C εᵖ + O(εᵖ⁺¹)`` the combination

        R_ε f = (rᵖ · D_{ε/r} f − D_ε f) / (rᵖ − 1)

    cancels the ``εᵖ`` term.  Since ``D_{ε/r} f = ε⁻ᵈ Σ rᵈ wᵢ f(x + (oᵢ/r) ε)``,
    ``R_ε`` is itself a stencil on the offsets ``oᵢ`` and ``oᵢ/r`` (rationals);
    its order is read off its moments like any other stencil's: the next
    non-zero term of the base's error expansion (``p + 1`` in general,
    ``p + 2`` for centered stencils, whose odd error terms vanish).
    """
    if base.complex_samples:
        raise DerivauditError("Richardson extrapolation applies to real stencils, not the complex step")
    try:
        r = sp.Rational(repr(ratio) if isinstance(ratio, float) else ratio)
    except (TypeError, ValueError):
        raise DerivauditError(f"the Richardson step ratio must be a rational number > 1, not {ratio!r}") from None
    if not r > 1:
        raise DerivauditError(f"the Richardson step ratio must be a rational number > 1, not {ratio!r}")
    d, p = base.derivative, base.accuracy
    scale = r ** p - 1
    combined: dict[sp.Rational, sp.Rational] = {}
    for o, w in base.terms():
        combined[o] = combined.get(o, 0) - w / scale
        combined[o / r] = combined.get(o / r, 0) + r ** (p + d) * w / scale
    offsets = sorted(o for o, w in combined.items() if w != 0)
    if len(offsets) > MAX_POINTS:
        raise DerivauditError(f"Richardson extrapolation of {base.name} needs more than {MAX_POINTS} points")
    suffix = "" if r == 2 else f"@{r}"
    return _from_weights(f"richardson-{base.name}{suffix}", d, [sp.Rational(o) for o in offsets],
                         [sp.Rational(combined[o]) for o in offsets])


@dataclass(frozen=True)
class ComplexStep:
    """The complex-step derivative ``Im f(x + iε) / ε``.

    For ``f`` analytic along the real axis and real on it,
    ``f(x + iε) = f − ε²/2·f'' + ... + i·(ε f' − ε³/6·f''' + ...)``, so
    ``Im f(x + iε)/ε = f'(x) − ε²/6 · f'''(x) + O(ε⁴)``: order 2, error
    constant −1/6, and no subtraction, hence no cancellation — in float64
    the error stays at the rounding level ``≈ u·|f'|`` down to ε = 1e-200.
    First derivatives only.  It is not a sum of real samples, so it is not a
    :class:`Stencil` and has no ``terms()``; it has every attribute the sweep
    and the error model read (``name``, ``derivative``, ``accuracy``,
    ``error_constant``, ``counts``, ``points``, ``roundoff_power``,
    ``roundoff_weights()``, ``leading_terms()``, ``formula()``), and
    ``complex_samples`` tells evaluation code to take ``Im f(x + iε)/ε``
    (see :mod:`derivaudit.core.numeric`).
    """

    name: str
    derivative: int
    accuracy: int
    error_constant: sp.Rational

    complex_samples: ClassVar[bool] = True
    #: one sample, at ``x + iε``
    points: ClassVar[int] = 1
    #: no difference cancels: the roundoff does not grow as ε shrinks
    roundoff_power: ClassVar[int] = 0

    @property
    def counts(self) -> tuple[int, ...]:
        return (self.derivative,)

    def roundoff_weights(self) -> list:
        return []

    def leading_terms(self) -> list[tuple[sp.Rational, tuple[int, ...]]]:
        return [(self.error_constant, (self.derivative + self.accuracy,))]

    def formula(self, f: str = "f", x: str = "x", eps: str = "ε") -> str:
        return f"Im({f}({x} + I*{eps}))/{eps}"


def complex_step(derivative: int = 1) -> ComplexStep:
    """The complex-step scheme (first derivative only)."""
    if derivative != 1:
        raise DerivauditError(f"the complex step gives first derivatives only, not order {derivative}; "
                              "use centered or richardson-centered for higher derivatives")
    return ComplexStep("complex-step", 1, 2, sp.Rational(-1, 6))


@dataclass(frozen=True)
class TensorStencil:
    """Tensor product of one-variable stencils, for mixed partials.

    ``factors[k]`` differentiates ``dₖ`` times along direction ``k``:
    ``∂^{d₁+...+dₙ} f / ∂x₁^{d₁}...∂xₙ^{dₙ} ≈ ε^{−Σdₖ} Σ Πₖ w_{k,iₖ} · f(x + ε·(o_{1,i₁}, ..., o_{n,iₙ}))``.
    Writing each factor as ``Dₖ = ∂ₖ^{dₖ} (1 + Cₖ εᵖᵏ ∂ₖ^{pₖ} + ...)``, the
    product's error is ``Σₖ Cₖ εᵖᵏ ∂ₖ^{pₖ} ∂^{d} f + ...``: order
    ``p = min pₖ``, with one leading term per direction attaining it
    (:meth:`leading_terms`).  ``terms()`` yields ``(offset tuple, weight)``.
    """

    name: str
    factors: tuple[Stencil, ...]

    complex_samples: ClassVar[bool] = False

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(f.derivative for f in self.factors)

    @property
    def roundoff_power(self) -> int:
        return self.derivative

    def roundoff_weights(self) -> list[sp.Rational]:
        return [w for _, w in self.terms()]

    @property
    def derivative(self) -> int:
        return sum(f.derivative for f in self.factors)

    @property
    def accuracy(self) -> int:
        return min(f.accuracy for f in self.factors)

    @property
    def points(self) -> int:
        return len(self.terms())

    def terms(self) -> list[tuple[tuple[sp.Rational, ...], sp.Rational]]:
        combos = [((), sp.Integer(1))]
        for factor in self.factors:
            combos = [(o + (fo,), w * fw) for o, w in combos for fo, fw in factor.terms()]
        return combos

    def leading_terms(self) -> list[tuple[sp.Rational, tuple[int, ...]]]:
        """``(Cₖ, derivative counts)`` of each leading error term ``Cₖ εᵖ ∂^{counts} f``."""
        p = self.accuracy
        return [(f.error_constant, tuple(g.derivative + (p if j == k else 0) for j, g in enumerate(self.factors)))
                for k, f in enumerate(self.factors) if f.accuracy == p]


def tensor_stencil(name: str, counts: tuple[int, ...]) -> TensorStencil:
    """The scheme ``name`` along each direction ``k``, for a ``counts[k]``-th derivative."""
    if str(name).strip().lower().startswith("complex"):
        raise DerivauditError("the complex step cannot take mixed partials; use centered "
                              "or richardson-centered")
    return TensorStencil(str(name).strip().lower(), tuple(stencil(name, c) for c in counts))


_KINDS = {"forward": (forward, 1), "backward": (backward, 1), "centered": (centered, 2)}


@lru_cache(maxsize=1024)  # Richardson stencils are built with sympy arithmetic on each call
def stencil(name: str, derivative: int = 1) -> Stencil:
    """The stencil called ``name`` (``forward``, ``centered4``, ``richardson-centered``,
    ``complex-step``, ...) for the given derivative."""
    text = str(name).strip().lower()
    if text in ("complex-step", "complex_step"):
        return complex_step(derivative)
    if text.startswith("richardson-"):
        return richardson(stencil(text[len("richardson-"):], derivative))
    match = _SCHEME_NAME.match(text)
    if not match:
        raise DerivauditError(f"unknown scheme {name!r}; use forward, backward or centered, "
                              "optionally with an accuracy order such as centered4, "
                              "richardson-<scheme> (e.g. richardson-centered) or complex-step")
    build, default = _KINDS[match.group(1)]
    accuracy = int(match.group(2)) if match.group(2) else default
    return build(derivative, accuracy)
