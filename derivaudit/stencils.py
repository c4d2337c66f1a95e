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
the same with an accuracy suffix, e.g. ``forward2``, ``centered4``, ``centered6``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from .errors import DerivauditError

__all__ = ["Stencil", "forward", "backward", "centered", "stencil", "SCHEME_KINDS"]

SCHEME_KINDS = ("forward", "backward", "centered")
_SCHEME_NAME = re.compile(r"^(forward|backward|centered)(\d*)$")
#: longest stencil built on request; far beyond any useful accuracy
_MAX_POINTS = 41


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

    @property
    def points(self) -> int:
        """Number of function evaluations (offsets with a non-zero weight)."""
        return sum(1 for w in self.weights if w != 0)

    def terms(self) -> list[tuple[sp.Rational, sp.Rational]]:
        """``(offset, weight)`` pairs with non-zero weight."""
        return [(o, w) for o, w in zip(self.offsets, self.weights) if w != 0]

    def formula(self, f: str = "f", x: str = "x", eps: str = "ε") -> str:
        """Human-readable form, e.g. ``(f(x + ε) - f(x - ε))/(2ε)``."""
        e, X = sp.Symbol(eps), sp.Symbol(x)
        F = sp.Function(f)
        total = sum(w * F(X + o * e) for o, w in self.terms())
        return str(total / e ** self.derivative)


def _moments(offsets, weights, derivative):
    """First non-zero Taylor moment past the derivative: (k, mₖ/k!)."""
    for k in range(derivative + 1, derivative + 2 * len(offsets) + 2):
        moment = sum(w * o ** k for o, w in zip(offsets, weights))
        if moment != 0:
            return k, sp.Rational(moment) / sp.factorial(k)
    raise DerivauditError("stencil is exact for all polynomials; it cannot be a finite difference")


@lru_cache(maxsize=None)
def _build(name: str, derivative: int, offsets: tuple[int, ...]) -> Stencil:
    grid = [sp.Integer(o) for o in offsets]
    weights = tuple(sp.Rational(w) for w in sp.finite_diff_weights(derivative, grid, 0)[derivative][-1])
    for k in range(derivative):
        if sum(w * o ** k for o, w in zip(grid, weights)) != 0:
            raise DerivauditError(f"offsets {offsets} do not give a derivative of order {derivative}")
    k, constant = _moments(grid, weights, derivative)
    return Stencil(name, derivative, tuple(grid), weights, k - derivative, constant)


def _check(derivative: int, accuracy: int) -> None:
    for label, value in (("derivative order", derivative), ("accuracy", accuracy)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise DerivauditError(f"{label} must be a whole number ≥ 1, not {value!r}")
    if derivative + accuracy > _MAX_POINTS:
        raise DerivauditError(f"a stencil for derivative {derivative} with accuracy {accuracy} "
                              f"needs more than {_MAX_POINTS} points")


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


_KINDS = {"forward": (forward, 1), "backward": (backward, 1), "centered": (centered, 2)}


def stencil(name: str, derivative: int = 1) -> Stencil:
    """The stencil called ``name`` (``forward``, ``centered4``, ...) for the given derivative."""
    match = _SCHEME_NAME.match(str(name).strip().lower())
    if not match:
        raise DerivauditError(f"unknown scheme {name!r}; use forward, backward or centered, "
                              "optionally with an accuracy order such as centered4")
    build, default = _KINDS[match.group(1)]
    accuracy = int(match.group(2)) if match.group(2) else default
    return build(derivative, accuracy)
