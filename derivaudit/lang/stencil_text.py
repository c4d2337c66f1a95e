"""A user's stencil as text: ``[NAME=]OFFSETS:WEIGHTS``.

``-2,-1,0,1,2:1/12,-2/3,0,2/3,-1/12`` gives five offsets and five weights;
``mine=-1,0,1:-1/2,0,1/2`` also names the stencil.  The numbers stay text
here; :func:`~derivaudit.lang.numbers.exact_rational` reads each one exactly
(``1/12`` is exactly 1/12 and ``0.5`` exactly 1/2).

>>> split_stencil_text("mine=-1,0,1:-1/2,0,1/2")
('mine', ['-1', '0', '1'], ['-1/2', '0', '1/2'])
"""

from __future__ import annotations

from derivaudit.errors import ParseError

__all__ = ["split_stencil_text", "STENCIL_TEXT_EXAMPLE"]

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
