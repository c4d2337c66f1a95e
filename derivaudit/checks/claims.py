"""The user's input to a check: the formula, the variables and the claimed derivative(s).

A gradient claim is one text with a component per variable, split at its
top-level commas (:func:`split_claim`); each part is read by the safe
formula walker (:func:`~derivaudit.lang.parse.parse_formula`).
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from derivaudit.errors import DerivauditError, LimitExceeded, ParseError
from derivaudit.lang.parse import parse_formula
from derivaudit.limits import Limits
from derivaudit.core.symbolic import as_symbol, default_variable, require_variables

__all__ = ["split_claim", "parse_part", "claim_part", "claim_parts", "check_variables"]


def split_claim(text: str) -> list[str]:
    """Split ``"2*x*y, x**2"`` at its top-level commas (not inside ``max(a, b)``).

    A list written with brackets, ``"[2*x*y, x**2]"`` or ``"(2*x*y, x**2)"``,
    is split the same way.
    """
    parts = _split_top_level(text)
    stripped = text.strip()
    if len(parts) == 1 and len(stripped) > 1 and stripped[0] + stripped[-1] in ("[]", "()"):
        inner = _split_top_level(stripped[1:-1])
        if len(inner) > 1:
            return inner
    return parts


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_part(value, what: str, limits: Limits) -> sp.Expr:
    if isinstance(value, sp.Expr):
        return value
    if isinstance(value, (int, Fraction)) and not isinstance(value, bool):
        return sp.Rational(value)
    if not isinstance(value, str):
        raise ParseError(f"{what} must be text or a sympy expression, not {type(value).__name__}")
    try:
        return parse_formula(value, limits=limits)
    except (ParseError, LimitExceeded) as exc:
        raise type(exc)(f"{what} {value!r}: {exc}") from None


def claim_part(value, what: str, limits: Limits) -> tuple[sp.Expr, str]:
    """A claim component as ``(expression, text as given)``; the text is empty
    for an expression given as such (reports print it in the formula language)."""
    expr = parse_part(value, what, limits)
    return expr, value.strip() if isinstance(value, str) else ""


def claim_parts(claim, count: int, limits: Limits) -> list[tuple[sp.Expr, str]]:
    """The claimed derivative(s) as ``(expression, text as given)``, one per component."""
    if claim is None:
        raise DerivauditError("no claim given; pass the hand-derived derivative as claim=... "
                              "(--claim TEXT)")
    if isinstance(claim, str):
        parts = split_claim(claim)
    elif isinstance(claim, (list, tuple)):
        parts = list(claim)
    else:
        parts = [claim]
    if len(parts) != count:
        has = f"the claim has {len(parts)} component{'s' if len(parts) != 1 else ''}"
        if count == 1:
            raise DerivauditError(f"{has} but one derivative was asked; for a gradient use "
                                  "--grad / grad=[...]")
        raise DerivauditError(f"{has} but the gradient has {count}; give one per variable, "
                              "separated by commas")
    if count == 1:
        return [claim_part(parts[0], "claim", limits)]
    return [claim_part(p, f"claim component {i + 1}", limits) for i, p in enumerate(parts)]


def check_variables(expr: sp.Expr, wrt, grad) -> tuple[list[sp.Symbol], bool]:
    if grad is not None and wrt is not None:
        raise DerivauditError("give either wrt (one derivative) or grad (a gradient), not both")
    if grad is not None:
        names = split_claim(grad) if isinstance(grad, str) else list(grad)
        variables = [as_symbol(v) for v in names]
        if not variables:
            raise DerivauditError("grad names no variables")
        seen = set()
        for v in variables:
            if v in seen:
                raise DerivauditError(f"grad names {v.name} twice")
            seen.add(v)
        require_variables(expr, variables)
        return variables, True
    var = as_symbol(wrt) if wrt is not None else default_variable(expr)
    require_variables(expr, [var])
    return [var], False

