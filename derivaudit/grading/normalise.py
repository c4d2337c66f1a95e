"""Answers as keys: two answers that read the same are judged once.

:func:`answer_key` normalises a claim's text without changing what it
means: the text is cut into Python tokens (the formula language is
Python's arithmetic syntax) and the spaces between tokens are dropped,
except one where two tokens would merge, so ``3*x**2``, ``3 * x ** 2`` and
`` 3*x**2 `` (the spaces and tabs around a CSV field are not part of the
answer) share one key while ``1 2`` (a syntax error) and ``12`` do not.
Everything else stays as typed, so that the parser's message about an
invalid answer (``2x``: "did you mean 2*x?") still fits it.  Text that does
not tokenize keys as itself, stripped: it is judged (as invalid) once.  Two answers whose texts differ
but whose parsed formulas and typed domains are identical share their judgement in the judge
(:mod:`derivaudit.grading.judge`).  Answers are echoed anywhere (terminal, CSV, page, JSON)
through :func:`derivaudit.echo.escape_controls`, the one escaping function.
"""

from __future__ import annotations

import io
import tokenize

__all__ = ["answer_key"]

_SKIP = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT,
         tokenize.COMMENT}


#: characters that may merge with a neighbour into one token: names, numbers, operators
_WORDLIKE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
_OPERATOR = set("*/+-<>=!%&|^~@:")


def _joined(text: str) -> str | None:
    """``text`` without the spaces between tokens, except where two tokens would merge."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    out, previous = [], None
    for token in tokens:
        if token.type in _SKIP:
            if token.type == tokenize.COMMENT:
                return None  # not a formula; keep the text as it is
            continue
        if token.type == tokenize.ERRORTOKEN:
            return None  # a character Python does not read: the parser names it, in the text as typed
        if previous is not None and previous.end != token.start:
            a, b = previous.string[-1], token.string[0]
            if (a in _WORDLIKE or not a.isascii()) and (b in _WORDLIKE or not b.isascii()) or \
                    (a in _OPERATOR and b in _OPERATOR):
                out.append(" ")
        out.append(token.string)
        previous = token
    return "".join(out)


def answer_key(claims: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The normalised form of a submission's claim text(s).

    >>> answer_key(["3 * x ** 2 "]) == answer_key(["3*x**2"])
    True
    >>> answer_key(["1 2", "x * * 2", "2x + sin( x )"])
    ('1 2', 'x* *2', '2x+sin(x)')
    """
    keys = []
    for text in claims:
        text = text.strip(" \t")  # the spaces around a CSV field are not part of the answer
        if len(text) > 20_000 or any(ch.isspace() and ch != " " for ch in text):
            # too long to be valid, or a tab, newline, form feed or exotic space, which the
            # parser judges itself: keyed as typed, never made readable by normalising
            keys.append(text)
            continue
        joined = _joined(text)
        keys.append(text if joined is None else joined)
    return tuple(keys)
