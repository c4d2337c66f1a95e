"""How to fix a formula: hints for the errors people make most.

Kept apart from the walker so every error site words its hint the same way.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = ["FUNCTION_ALIASES", "closest_name", "unknown_function_hint", "syntax_hint"]

#: names from other notations → the formula language's name
FUNCTION_ALIASES = {"ln": "log", "sgn": "sign", "arctg": "atan", "tg": "tan", "Exp": "exp", "Log": "log",
                    "Sin": "sin", "Cos": "cos", "Tan": "tan", "Sqrt": "sqrt", "lg": "log10"}

#: a number written right before a name or a parenthesis: 2x, 3(x+1), 1.5e-3y
_IMPLICIT_PRODUCT = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)(?=[A-Za-z_(])")
#: a closing parenthesis right before a name, a number or an opening one: (x+1)(x-1), (x)y
_ADJACENT_GROUPS = re.compile(r"\)\s*(?=[\w(])")


def closest_name(name: str, known: Iterable[str]) -> str | None:
    """The one of ``known`` a misspelt ``name`` most likely meant, or None: a name that
    differs from it only in case first, then difflib's closest match, as written and
    then case-folded (``EXP`` is ``exp``, however far apart difflib finds them).

    >>> closest_name("EXP", ["exp", "expm1"]), closest_name("epx", ["log", "exp"])
    ('exp', 'exp')
    >>> closest_name("SOFTPLUS", ["softplus", "sign"]), closest_name("qqq", ["exp"]) is None
    ('softplus', True)
    """
    known = list(known)
    folded: dict[str, str] = {}
    for candidate in known:
        folded.setdefault(candidate.casefold(), candidate)
    same = folded.get(name.casefold())
    if same is not None:
        return same
    close = (difflib.get_close_matches(name, known, n=1)
             or [folded[c] for c in difflib.get_close_matches(name.casefold(), list(folded), n=1)])
    return close[0] if close else None


def unknown_function_hint(name: str, known: Iterable[str]) -> str:
    """The hint for an unknown function ``name``.

    >>> unknown_function_hint("ln", ["log", "exp"])
    "write log(...): the natural logarithm is 'log'"
    >>> unknown_function_hint("epx", ["log", "exp"])
    "did you mean 'exp'?"
    """
    known = list(known)
    alias = FUNCTION_ALIASES.get(name)
    if alias in known:
        if name == "ln":
            return "write log(...): the natural logarithm is 'log'"
        return f"write {alias}(...)"
    close = closest_name(name, known)
    return f"did you mean '{close}'?" if close else ""


def syntax_hint(text: str) -> str:
    """The hint for a syntax error in ``text``: a product written without ``*``.

    >>> syntax_hint("2x + 1")
    'write 2*x: a product needs *'
    >>> syntax_hint("(x+1)(x-1)")
    'write (x+1)*(x-1): a product needs *'
    >>> syntax_hint("x +")
    ''
    """
    match = _IMPLICIT_PRODUCT.search(text)
    if match:
        end = match.end()
        tail = re.match(r"[A-Za-z_]\w*|\([^()]*\)", text[end:])
        return f"write {match.group(1)}*{tail.group() if tail else text[end:end + 1]}: a product needs *"
    match = _ADJACENT_GROUPS.search(text)
    if match:
        head = text[: match.start() + 1]
        opening = head.rfind("(")
        tail = re.match(r"[A-Za-z_]\w*|\d+(?:\.\d*)?|\([^()]*\)", text[match.end():])
        if opening >= 0 and tail:
            return f"write {head[opening:]}*{tail.group()}: a product needs *"
    return ""
