"""Formulas typeset as MathML, from sympy's presentation printer.

Browsers render MathML natively, so a report needs no script and nothing
remote to show ``θ³/(1 + e^(−x))`` as a fraction with a superscript.  The
text is built by sympy from a parsed tree (never from the user's string),
so it holds only the printer's own tags and escaped names.
"""

from __future__ import annotations

import re

__all__ = ["expr_mathml", "formula_mathml"]

#: sympy writes e and products with named characters some fonts draw oddly (ⅇ); plain forms read better
_PLAIN = {"&ExponentialE;": "e", "&InvisibleTimes;": "&#8290;", "&ImaginaryI;": "i"}


def expr_mathml(expr) -> str:
    """An inline ``<math>`` element typesetting a sympy expression.

    Parameters
    ----------
    expr : sympy.Expr

    Returns
    -------
    str
        ``<math display="inline">…</math>``; Greek names (``theta``) print as
        letters (θ), as in typeset mathematics.

    Examples
    --------
    >>> import sympy
    >>> expr_mathml(sympy.Symbol("x") ** 2)
    '<math display="inline"><msup><mi>x</mi><mn>2</mn></msup></math>'
    """
    import sympy as sp

    from derivaudit.core.piecewise import Branch

    if isinstance(expr, sp.Basic) and expr.has(Branch):  # typeset as cases, not as its arguments
        expr = expr.replace(lambda e: isinstance(e, Branch), lambda e: e.rewrite(sp.Piecewise))
    body = sp.mathml(expr, printer="presentation")
    body = re.sub("|".join(map(re.escape, _PLAIN)), lambda m: _PLAIN[m.group()], body)
    return f'<math display="inline">{body}</math>'


def formula_mathml(text: str) -> str | None:
    """The MathML of a formula in derivaudit's language, or None if it does not parse.

    >>> formula_mathml("1/x").count("<mfrac>")
    1
    """
    from derivaudit.errors import DerivauditError
    from derivaudit.lang.parse import parse_formula

    try:
        return expr_mathml(parse_formula(text))
    except DerivauditError:
        return None
