"""A user's stencil as text: ``[NAME=]OFFSETS:WEIGHTS``.

``-2,-1,0,1,2:1/12,-2/3,0,2/3,-1/12`` gives five offsets and five weights;
``mine=-1,0,1:-1/2,0,1/2`` also names the stencil.  The numbers stay text
there; :func:`exact_rational` reads each one exactly, through the safe
formula parser (:func:`~derivaudit.lang.parse.parse_constant`): ``1/12`` is
exactly 1/12 and ``0.5`` exactly 1/2, and a Python float is taken by its
shortest decimal (``0.1`` is 1/10, not the binary double nearest it).

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
    """An offset or weight (int, Fraction, float, sympy rational or text) as an exact rational.

    ``what`` names the value in errors, e.g. ``"weight 3"``.  Every form is
    read as its text by the safe parser (a float by its shortest repr);
    irrational or non-numeric values raise :class:`~derivaudit.errors.ParseError`.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Fraction, sp.Rational)):
        raise ParseError(f"{what} must be a number or text such as 1/12, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParseError(f"{what} must be finite, not {value!r}")
    number = parse_constant(repr(value) if isinstance(value, float) else str(value), what=what)
    if not number.is_Rational:
        raise ParseError(f"{what} {str(value)[:40]!r} must be a rational number such as 1/12 or 0.5")
    return sp.Rational(number)
