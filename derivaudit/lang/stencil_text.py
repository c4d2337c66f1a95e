"""A user's stencil as text: ``[NAME=]OFFSETS:WEIGHTS``, and exact numbers for its parts.

``-2,-1,0,1,2:1/12,-2/3,0,2/3,-1/12`` gives five offsets and five weights;
``mine=-1,0,1:-1/2,0,1/2`` also names the stencil.  Every number is read by
the safe formula parser (:func:`~derivaudit.lang.parse.parse_constant`), so
``1/12`` is exactly 1/12 and ``0.5`` exactly 1/2; a Python float is taken
by its shortest decimal (``0.1`` is 1/10, not the binary double nearest it).

>>> split_stencil_text("mine=-1,0,1:-1/2,0,1/2")
('mine', ['-1', '0', '1'], ['-1/2', '0', '1/2'])
>>> exact_rational("1/12", "weight 1"), exact_rational(0.5, "weight 2")
(1/12, 1/2)
"""

from __future__ import annotations

import math
from fractions import Fraction

import sympy as sp

from derivaudit.errors import ParseError
from derivaudit.lang.parse import parse_constant

__all__ = ["split_stencil_text", "exact_rational", "STENCIL_TEXT_EXAMPLE"]

#: shown in every message about malformed stencil text
STENCIL_TEXT_EXAMPLE = "-1,0,1:-1/2,0,1/2"
#: longest stencil name accepted (it heads a table column)
_MAX_NAME = 40


def split_stencil_text(text: str) -> tuple[str | None, list[str], list[str]]:
    """``[NAME=]OFFSETS:WEIGHTS`` → ``(name or None, offset texts, weight texts)``.

    The numbers stay text here; :func:`exact_rational` reads each one.
    Raises :class:`~derivaudit.errors.ParseError` naming the part at fault.
    """
    if not isinstance(text, str):
        raise ParseError(f"a stencil must be text OFFSETS:WEIGHTS, not {type(text).__name__}")
    name, sep, body = text.partition("=")
    if not sep:
        name, body = None, text
    else:
        name = name.strip()
        if not name or len(name) > _MAX_NAME or not name.isprintable() or "," in name:
            raise ParseError(f"stencil {text!r}: the name before '=' must be 1 to {_MAX_NAME} printable "
                             f"characters without commas, e.g. mine={STENCIL_TEXT_EXAMPLE}")
    parts = body.split(":")
    if len(parts) != 2:
        raise ParseError(f"stencil {text!r} must be OFFSETS:WEIGHTS with one ':', "
                         f"e.g. {STENCIL_TEXT_EXAMPLE}")
    offsets, weights = ([p.strip() for p in part.split(",")] for part in parts)
    for label, values in (("offsets", offsets), ("weights", weights)):
        if values == [""]:
            raise ParseError(f"stencil {text!r}: the {label} part is empty; "
                             f"write OFFSETS:WEIGHTS, e.g. {STENCIL_TEXT_EXAMPLE}")
        if "" in values:
            raise ParseError(f"stencil {text!r}: {label} entry {values.index('') + 1} is empty "
                             "(two commas in a row, or one at an end)")
    return name, offsets, weights


def exact_rational(value, what: str) -> sp.Rational:
    """``value`` (int, Fraction, float, sympy number or text) as an exact rational.

    ``what`` names the value in errors, e.g. ``"weight 3"``.  Text goes through
    the safe parser (``"1/12"``, ``"-2/3"``, ``"1e-3"``); a float is taken by its
    shortest repr.  Irrational or non-numeric values raise
    :class:`~derivaudit.errors.ParseError`.
    """
    if isinstance(value, bool):
        raise ParseError(f"{what} must be a number, not {value!r}")
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParseError(f"{what} must be finite, not {value!r}")
        number = parse_constant(repr(value), what=what)
    elif isinstance(value, str):
        number = parse_constant(value, what=what)
    elif isinstance(value, sp.Expr) and not value.free_symbols:
        number = value
    else:
        raise ParseError(f"{what} must be a number or text such as 1/12, not {type(value).__name__}")
    if not number.is_Rational:
        raise ParseError(f"{what} {str(value)[:40]!r} must be a rational number such as 1/12 or 0.5")
    return sp.Rational(number)
