"""Numbers, formulas and tables as text: the terminal's view of a result.

Every other report (CSV, HTML, JSON) formats its numbers with these
functions, so a value reads the same in each of them.
"""

from __future__ import annotations

import math

import mpmath

from derivaudit.errors import DerivauditError
from derivaudit.studies.inputs import step_text

__all__ = ["format_number", "scientific", "table_as_text", "formula_text", "shape_text", "file_stem",
           "short_step", "digits_of"]


#: significant digits that identify every IEEE double (and a double's ``repr`` never needs more)
FLOAT64_DIGITS = 17


def digits_of(value: mpmath.mpf) -> int:
    """Decimal digits an mpf carries: its mantissa's bit count, at least 17.

    >>> digits_of(mpmath.mpf(1) / 3) >= 15
    True
    """
    return max(FLOAT64_DIGITS, mpmath.libmp.prec_to_dps(max(value._mpf_[3], 1)))


def format_number(value, digits: int | None = None) -> str:
    """Decimal text of a table value.

    Parameters
    ----------
    value : mpmath.mpf, float or any
        The number; anything else prints with ``str``.
    digits : int, optional
        Significant digits.  mpmath numbers print all the digits they carry
        when None (``nstr`` drops trailing zeros, so 3.0301 at 50 digits
        reads ``3.0301``); floats print with ``repr`` precision when None or
        at least :data:`FLOAT64_DIGITS`.

    Returns
    -------
    str
        The text; NaN prints as ``nan``; an integral mpmath number prints as the
        integer (``3``, ``0``).

    Examples
    --------
    >>> with mpmath.workdps(50):
    ...     format_number(mpmath.mpf("3.0301")), format_number(mpmath.mpf(3)), format_number(mpmath.mpf(0))
    ('3.0301', '3', '0')
    >>> format_number(0.1 + 0.2, 3), format_number(0.1, 20)
    ('0.3', '0.1')
    """
    if isinstance(value, mpmath.mpf):
        if digits is None:
            digits = digits_of(value)
        text = mpmath.nstr(value, digits, min_fixed=-5, max_fixed=digits + 1)
        # an integral value reads as the integer it is (3, 0), not as a float's 3.0
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        # 17 digits identify any double: beyond them ``repr`` (the shortest text that reads
        # back as the same double) instead of the binary expansion's noise (0.1 → 0.1000…0555)
        return repr(value) if digits is None or digits >= FLOAT64_DIGITS else f"{value:.{digits}g}"
    return str(value)


def scientific(value, digits: int = 4) -> str:
    """``value`` in scientific notation with ``digits`` significant digits.

    Parameters
    ----------
    value : mpmath.mpf or float
        mpmath numbers keep their exponent however small.
    digits : int
        Significant digits of the mantissa.

    Returns
    -------
    str
        ``3.010e-02``; zero prints as ``0`` and NaN as an empty string.

    Examples
    --------
    >>> scientific(0.0301)
    '3.010e-02'
    >>> scientific(mpmath.mpf("1e-500"))
    '1.000e-500'
    """
    if isinstance(value, mpmath.mpf):
        if mpmath.isnan(value):
            return ""
        if value == 0:
            return "0"
        with mpmath.workdps(digits + 10):
            exponent = int(mpmath.floor(mpmath.log10(abs(value))))
            mantissa = round(float(value / mpmath.mpf(10) ** exponent), digits - 1)
        if abs(mantissa) >= 10:
            mantissa, exponent = mantissa / 10, exponent + 1
        return f"{mantissa:.{digits - 1}f}e{exponent:+03d}"
    value = float(value)
    if math.isnan(value):
        return ""
    return "0" if value == 0 else f"{value:.{digits - 1}e}"


def table_as_text(table, digits: int = 20,
                  columns=("scheme", "eps", "approx", "exact", "abs_error", "observed_order")) -> str:
    """A study table as aligned text.

    Parameters
    ----------
    table : pandas.DataFrame
        A study table (or any table with ``columns``).
    digits : int
        Significant digits of every number but the observed order (4 decimals); steps
        print as typed (:func:`~derivaudit.studies.inputs.step_text`).
    columns : sequence of str
        The columns shown, in order.

    Returns
    -------
    str
        The table, one line per row, with a header line.
    """
    import pandas as pd

    shown = pd.DataFrame({c: [_cell_text(c, v, digits) for v in table[c]] for c in columns})
    return shown.to_string(index=False)


def _cell_text(column: str, value, digits: int) -> str:
    if column == "observed_order":
        return "" if math.isnan(value) else f"{value:.4f}"
    if column == "eps":  # as typed: 1e-6, not 1.0e-6
        return step_text(value, digits)
    return format_number(value, digits)


def formula_text(expr) -> str:
    """``expr`` in the formula language, or sympy's text where it has no formula form.

    >>> import sympy
    >>> formula_text(sympy.Symbol("x") ** 2)
    'x**2'
    """
    from derivaudit.lang.parse import format_formula

    try:
        return format_formula(expr)
    except DerivauditError:
        return str(expr)


def shape_text(shape) -> str:
    """A tensor shape as text: ``(3, 4)`` → ``3x4``, ``()`` → ``scalar``.

    >>> shape_text((3, 4)), shape_text(())
    ('3x4', 'scalar')
    """
    return "x".join(map(str, shape)) or "scalar"


def file_stem(label: str) -> str:
    """A file stem from a label.

    >>> file_stem("d^2f/dx^2")
    'd_2f_dx_2'
    """
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in label).strip("_")
    while "__" in stem:
        stem = stem.replace("__", "_")
    return stem or "table"


def short_step(value) -> str:
    """A step as compact text, as typed (:func:`~derivaudit.studies.inputs.step_text`, 6 digits).

    >>> short_step(0.01), short_step(1e-8), short_step(mpmath.mpf("3.16227766e-5"))
    ('0.01', '1e-8', '3.16228e-5')
    """
    return step_text(value if isinstance(value, mpmath.mpf) else mpmath.mpf(value), 6)
