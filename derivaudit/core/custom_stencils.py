"""A user's own finite-difference scheme: exact offsets and weights, judged by their Taylor moments.

A stencil ``D_ε f(x) = ε⁻ᵈ Σᵢ wᵢ f(x + oᵢ ε)`` expands as

    D_ε f(x) = Σₖ mₖ/k! · f⁽ᵏ⁾(x) · εᵏ⁻ᵈ,    mₖ = Σᵢ wᵢ oᵢᵏ,

so it approximates the ``d``-th derivative (is *consistent*) exactly when

    mₖ = k!·[k = d]   for every k ≤ d.

Its error ``D_ε f − f⁽ᵈ⁾ = Σₖ (mₖ/k! − [k = d]) f⁽ᵏ⁾ εᵏ⁻ᵈ`` is led by the first
``k`` whose term does not vanish: the order is ``p = k − d`` and the error
constant ``mₖ/k! − [k = d]``.  A consistent stencil has ``p ≥ 1``; an
inconsistent one ``p ≤ 0``: with ``p = 0`` it converges to ``(m_d/d!)·f⁽ᵈ⁾``,
a wrong multiple of the derivative, and with ``p < 0`` it diverges like ``εᵖ``.

On ``n`` distinct offsets exactly one set of weights makes ``m₀ … mₙ₋₁`` right
(a Vandermonde system); they are Fornberg's weights
(:func:`sympy.finite_diff_weights`) and reach the highest order the offsets
allow.  They are the :attr:`CustomStencil.suggested_weights`.

>>> st = custom_stencil([-2, -1, 0, 1, 2], ["1/6", "-2/3", 0, "2/3", "-1/6"])
>>> st.consistent, st.accuracy
(False, 0)
>>> st.failures()
['Σ wᵢ oᵢ = 2/3, need 1']
>>> print(st.suggestion())
for these offsets the order-4 weights are 1/12, -2/3, 0, 2/3, -1/12: yours differ at offsets -2, 2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import sympy as sp

from derivaudit.core.stencils import MAX_POINTS, ComplexStep, Stencil, leading_moment, stencil, tensor_stencil
from derivaudit.errors import DerivauditError
from derivaudit.lang.numbers import exact_rational
from derivaudit.lang.stencil_text import split_stencil_text

__all__ = ["CustomStencil", "custom_stencil", "resolve_schemes", "schemes_from_text", "moment_text"]

#: the schemes of a study given neither scheme names nor user stencils
DEFAULT_SCHEMES = ("forward", "centered")

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


@dataclass(frozen=True)
class CustomStencil(Stencil):
    """A :class:`~derivaudit.core.stencils.Stencil` given by the user, with its verdict.

    ``accuracy`` and ``error_constant`` follow from the moments (module text);
    they are ``≤ 0`` and ``mₖ/k! − [k = d]`` for an inconsistent stencil.
    ``given_offsets``/``given_weights`` are the numbers as the user wrote them;
    ``moments`` holds ``m₀ … m_K`` for ``K = max(d, d + accuracy)``;
    ``suggested_weights`` are Fornberg's weights on the same offsets, of
    order ``best_accuracy``.
    """

    given_offsets: tuple[str, ...]
    given_weights: tuple[str, ...]
    moments: tuple[sp.Rational, ...]
    suggested_weights: tuple[sp.Rational, ...]
    best_accuracy: int

    @property
    def consistent(self) -> bool:
        """True when ``mₖ = k!·[k = d]`` for every ``k ≤ d``: the stencil approximates the derivative."""
        return not self.failing_moments()

    def failing_moments(self) -> list[tuple[int, sp.Rational, sp.Integer]]:
        """``(k, mₖ, needed)`` for every ``k ≤ d`` with ``mₖ ≠ k!·[k = d]``."""
        d = self.derivative
        return [(k, m, _needed(k, d)) for k, m in enumerate(self.moments[:d + 1]) if m != _needed(k, d)]

    def failures(self) -> list[str]:
        """The failing moments as text, e.g. ``Σ wᵢ oᵢ = 2/3, need 1``."""
        return [f"{moment_text(k)} = {m}, need {need}" for k, m, need in self.failing_moments()]

    def differing_offsets(self) -> list[sp.Rational]:
        """The offsets where the user's weight is not the suggested one."""
        return [o for o, w, s in zip(self.offsets, self.weights, self.suggested_weights) if w != s]

    def consequence(self) -> str:
        """What an inconsistent stencil computes instead of the derivative ('' when consistent)."""
        if self.consistent:
            return ""
        d, p = self.derivative, self.accuracy
        target = _derivative_text(d)
        if p == 0:
            multiple = self.moments[d] / sp.factorial(d)
            return (f"so D_ε f → {multiple}·{target}, not {target}: the error does not vanish (order 0)"
                    if multiple != 0 else f"so D_ε f → 0, not {target}: the error does not vanish (order 0)")
        return (f"so D_ε f ≈ {self.error_constant}·{_derivative_text(d + p)}·{_step_power(p)} + …, "
                f"which diverges as ε → 0 (order {p})")

    def suggestion(self) -> str:
        """The weights that do reach the offsets' highest order, beside the user's ('' when they agree)."""
        differ = self.differing_offsets()
        if not differ:
            return ""
        where = "offset" if len(differ) == 1 else "offsets"
        return (f"for these offsets the order-{self.best_accuracy} weights are "
                f"{', '.join(map(str, self.suggested_weights))}: "
                f"yours differ at {where} {', '.join(map(str, differ))}")

    def verdict(self) -> str:
        """One line: wrong weights (every failing moment), or the order against the highest the offsets allow."""
        if not self.consistent:
            return f"wrong weights: {'; '.join(self.failures())}"
        p, best = self.accuracy, self.best_accuracy
        if p < best:
            return f"order {p}; these offsets allow order {best}"
        return f"order {p}, the highest these offsets allow"

    def notes(self) -> list[str]:
        """The whole diagnosis, one line each: verdict, consequence, suggested weights, error term."""
        lines = [self.verdict(), self.consequence(), self.suggestion()]
        if self.consistent:
            k = self.derivative + self.accuracy
            lines.append(f"leading error {self.error_constant}·{_derivative_text(k)}·{_step_power(self.accuracy)}")
        return [line for line in lines if line]


def _needed(k: int, d: int) -> sp.Integer:
    return sp.factorial(d) if k == d else sp.Integer(0)


def moment_text(k: int) -> str:
    """``Σ wᵢ``, ``Σ wᵢ oᵢ``, ``Σ wᵢ oᵢ²``, … for the ``k``-th Taylor moment."""
    if k == 0:
        return "Σ wᵢ"
    return "Σ wᵢ oᵢ" + ("" if k == 1 else str(k).translate(_SUPERSCRIPT))


def _step_power(p: int) -> str:
    return "ε" if p == 1 else "ε" + str(p).translate(_SUPERSCRIPT)


def _derivative_text(k: int) -> str:
    return {0: "f(x)", 1: "f'(x)", 2: "f''(x)"}.get(k, f"f⁽{str(k).translate(_SUPERSCRIPT)}⁾(x)")


def _numbers(values, label: str) -> tuple[tuple[sp.Rational, ...], tuple[str, ...]]:
    """Exact values and the text the user gave, from a sequence or comma-separated text."""
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",")]
    elif not isinstance(values, Sequence):
        try:
            values = list(values)
        except TypeError:
            raise DerivauditError(f"{label}s must be a list of numbers, not {type(values).__name__}") from None
    exact = tuple(exact_rational(v, f"{label} {i + 1}") for i, v in enumerate(values))
    return exact, tuple(v.strip() if isinstance(v, str) else repr(v) if isinstance(v, float) else str(r)
                        for v, r in zip(values, exact))


def _check_shape(offsets, weights, derivative) -> None:
    """Lengths, repeats, reach and size; each message names the part at fault."""
    if not isinstance(derivative, int) or isinstance(derivative, bool) or derivative < 1:
        raise DerivauditError(f"derivative order must be a whole number ≥ 1, not {derivative!r}")
    if len(offsets) != len(weights):
        raise DerivauditError(f"{len(offsets)} offsets but {len(weights)} weights: "
                              "give one weight per offset")
    if len(offsets) > MAX_POINTS:
        raise DerivauditError(f"{len(offsets)} offsets: a stencil may have at most {MAX_POINTS}")
    for i, o in enumerate(offsets):
        if o in offsets[:i]:
            raise DerivauditError(f"offset {o} is repeated (entries {offsets.index(o) + 1} and {i + 1}); "
                                  "merge its weights into one entry")
    if len(offsets) <= derivative:
        raise DerivauditError(f"{len(offsets)} offsets cannot reach a derivative of order {derivative}: "
                              f"it needs at least {derivative + 1} offsets")


def _leading_term(offsets, weights, derivative, moments) -> tuple[int, sp.Rational]:
    """``(order, error constant)``: of the first failing moment ``k ≤ d``, else past ``d``."""
    for k, m in enumerate(moments[:derivative + 1]):
        if m != _needed(k, derivative):
            return k - derivative, m / sp.factorial(k) - (1 if k == derivative else 0)
    k, constant = leading_moment(offsets, weights, derivative)
    return k - derivative, constant


def custom_stencil(offsets, weights, derivative: int = 1, name: str | None = None) -> CustomStencil:
    """The stencil ``ε⁻ᵈ Σᵢ wᵢ f(x + oᵢ ε)`` from the user's offsets and weights.

    Parameters
    ----------
    offsets, weights : sequences of numbers or exact text (or comma-separated text)
        ``"1/12"`` is exactly 1/12 and ``0.5`` exactly 1/2; offsets need not be
        integers nor evenly spaced, but must differ from one another.
    derivative : int
        The derivative ``d`` the stencil is meant to approximate.
    name : str, optional
        Its name in study tables (default ``stencil[o₁,o₂,…]``).

    Returns
    -------
    CustomStencil
        Order and error constant from the Taylor moments ``mₖ = Σ wᵢ oᵢᵏ``
        (see the module text); ``.consistent``, ``.failures()``,
        ``.suggested_weights`` and ``.notes()`` judge the weights.  It runs in
        :func:`~derivaudit.study` like a named scheme, consistent or not.

    >>> st = custom_stencil([0, 1, 2], ["-3/2", 2, "-1/2"])
    >>> st.accuracy, st.error_constant, st.verdict()
    (2, -1/3, 'order 2, the highest these offsets allow')
    """
    exact_offsets, given_offsets = _numbers(offsets, "offset")
    exact_weights, given_weights = _numbers(weights, "weight")
    _check_shape(exact_offsets, exact_weights, derivative)
    if all(w == 0 for w in exact_weights):
        raise DerivauditError("every weight is 0: the stencil computes nothing")
    if name is None:
        name = f"stencil[{','.join(given_offsets)}]"
    elif not isinstance(name, str) or not name.strip() or not name.isprintable():
        raise DerivauditError(f"a stencil name must be printable text, not {name!r}")
    suggested = tuple(sp.Rational(w) for w in
                      sp.finite_diff_weights(derivative, list(exact_offsets), 0)[derivative][-1])
    best = leading_moment(exact_offsets, suggested, derivative)[0] - derivative
    top = derivative + len(exact_offsets) + 1
    all_moments = [sum(w * o ** k for o, w in zip(exact_offsets, exact_weights)) for k in range(top)]
    accuracy, constant = _leading_term(exact_offsets, exact_weights, derivative, all_moments)
    moments = tuple(sp.Rational(m) for m in all_moments[:max(derivative, derivative + accuracy) + 1])
    return CustomStencil(name.strip(), derivative, exact_offsets, exact_weights, accuracy,
                         sp.Rational(constant), given_offsets, given_weights, moments, suggested, best)


def resolve_schemes(schemes, order: int, counts: tuple[int, ...] | None = None) -> list:
    """The stencil of each scheme: a name (``"centered4"``) or a scheme object (:class:`Stencil`, ...).

    ``counts`` (derivatives per direction) asks for tensor stencils of a
    mixed partial; user stencils take one direction only.  A user stencil
    whose name is already taken gets ``#2``, ``#3``, … appended.
    """
    items = [schemes] if isinstance(schemes, (str, Stencil, ComplexStep)) else list(schemes)
    if not items:
        raise DerivauditError("no schemes given")
    resolved, taken = [], set()
    for i, item in enumerate(items):
        if isinstance(item, (Stencil, ComplexStep)):
            if counts is not None:
                raise DerivauditError(f"scheme {item.name} is a one-variable stencil; a mixed partial "
                                      "takes named schemes (centered, richardson-centered, ...)")
            if item.derivative != order:
                raise DerivauditError(f"scheme {item.name} approximates derivative {item.derivative}, "
                                      f"but the study asks for order {order}; pass order={item.derivative}")
            st = item
        elif isinstance(item, str):
            st = tensor_stencil(item, counts) if counts is not None else stencil(item, order)
        else:
            raise DerivauditError(f"scheme {i + 1} is a {type(item).__name__}, not a scheme name "
                                  "or a Stencil (see custom_stencil)")
        if isinstance(st, CustomStencil) and st.name in taken:
            st = replace(st, name=next(f"{st.name}#{n}" for n in range(2, len(items) + 2)
                                       if f"{st.name}#{n}" not in taken))
        taken.add(st.name)
        resolved.append(st)
    return resolved


def schemes_from_text(names: str | None, stencils: Sequence[str], derivative: int) -> list:
    """The schemes of a command line: comma-separated ``names`` and ``[NAME=]OFFSETS:WEIGHTS`` texts.

    Without ``names``: :data:`DEFAULT_SCHEMES` when no stencil is given, else
    only the stencils.  An error names the stencil text at fault.
    """
    schemes: list = [n.strip() for n in (names or "").split(",") if n.strip()]
    if names is None and not stencils:
        schemes = list(DEFAULT_SCHEMES)
    for text in stencils:
        try:
            name, offsets, weights = split_stencil_text(text)
            schemes.append(custom_stencil(offsets, weights, derivative=derivative, name=name))
        except DerivauditError as exc:
            message = str(exc)
            raise type(exc)(message if message.startswith("stencil ") else f"stencil {text!r}: {message}") \
                from None
    return schemes
