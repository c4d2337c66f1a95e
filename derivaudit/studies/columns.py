"""A study's table: its columns from the certified cells, and the DataFrame.

Every number of an mp table is the correctly rounded ``dps``-digit decimal of its
ball (:mod:`derivaudit.core.rounding`), held as an ``mpf`` that prints back to
exactly those digits.  A study of 4 schemes × 6 steps rounds some 70 numbers and
builds one small DataFrame, and many small studies pay that per study: the
common rows (the study's exact value, an error to print) of every scheme are
rounded in one pass (:func:`round_rows`) before the columns are built
(:func:`mp_columns`, which sends every other row through :func:`cell_numbers`;
``tests/test_fast_path_twins.py`` compares the two ways on the same cells), and
the DataFrame is assembled from its blocks (:func:`table_frame`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import mpmath
import numpy as np
import pandas as pd
from flint import ctx
from mpmath.libmp import dps_to_prec, fnan, from_man_exp, fzero, mpf_abs, mpf_div, round_nearest, to_float
from pandas.api.internals import create_dataframe_from_blocks

from derivaudit.core.ball_steps import to_mpf
from derivaudit.core.balls import digits_to_bits
from derivaudit.core.rounding import rounded_raw, rounded_raws
from derivaudit.studies.orders import observed_order

__all__ = ["cell_numbers", "round_rows", "mp_columns", "float64_columns", "table_frame"]


def _rounded(ball, prec: int, rnd) -> tuple:
    """The ball's midpoint rounded to ``prec`` bits, as a raw mpf tuple (one rounding)."""
    man, exp = ball.mid().man_exp()
    return from_man_exp(int(man), int(exp), prec, rnd)


_MPF = mpmath.mp.mpf
_NEW = object.__new__


#: precision raises (each doubling the bits) a cell gets for a ball that does not decide its
#: rounding; past them the midpoint's rounding is kept (the value is then within a
#: 10^-(dps+4)-th of a unit of a rounding tie, as close to one neighbour as to the other)
_ROUNDING_RAISES = 3


def cell_numbers(cell, dps: int, refine, j: int, memo: list) -> tuple:
    """The cell (possibly recomputed at more precision) and the raw mpf tuples of its
    approximation, exact value, error and relative error (the last from the balls of the
    error and the exact value), each the correctly rounded ``dps``-digit decimal of its
    ball; None where the column reads 0 or NaN.  ``memo`` is ``[ball, raw]`` of the last
    exact value (one exact ball serves most cells).  A ball that does not decide its
    rounding gets the cell again from ``refine(j, cell)`` (at twice the bits)."""
    prec, rel_bits = dps_to_prec(dps), digits_to_bits(dps) + 64
    for attempt in range(_ROUNDING_RAISES + 1):
        approx, exact, error, below, approx_below, _ = cell
        balls = [None if approx_below else approx]
        if exact is not None:
            balls.append(exact)
            if not below:
                balls.append(error)
                if not exact.is_zero():
                    saved, ctx.prec = ctx.prec, rel_bits  # the division's rounding: far below a unit
                    balls.append(abs(error) / abs(exact))
                    ctx.prec = saved
        numbers = []
        for ball in balls:
            if ball is None:
                numbers.append(None)
                continue
            if ball is exact and ball is memo[0]:
                numbers.append(memo[1])
                continue
            raw = rounded_raw(ball, dps, prec)
            if raw is None:
                if attempt < _ROUNDING_RAISES:
                    break
                raw = _rounded(ball, prec, round_nearest)
            if ball is exact:
                memo[:] = exact, raw
            numbers.append(raw)
        else:
            return cell, numbers
        cell = refine(j, cell)
    raise AssertionError("unreachable")  # pragma: no cover


def round_rows(columns: list, dps: int, memo: list) -> list:
    """The numbers of every common row of a study, rounded in one pass before any column
    is built: per scheme, per row, the raw tuples ``(approx, exact, error, rel_error)``
    that :func:`cell_numbers` gives the row, or None for a row left to it.

    A common row has the study's exact ball (the first row's, which serves most rows:
    rounded once, and put in ``memo``), not 0, and an error to print; a row with a ball
    that does not decide its rounding is left to :func:`cell_numbers`, which raises its
    precision.  One pass over some 70 numbers (a short study) keeps the rounding's code
    hot between them, which interleaved with the columns' building it is not.
    """
    prec, rel_bits = dps_to_prec(dps), digits_to_bits(dps) + 64
    first = next((cell for cells in columns for cell in cells if cell[1] is not None), None)
    exact = None if first is None else first[1]
    raw = None if exact is None or exact.is_zero() else rounded_raw(exact, dps, prec)
    if raw is None:
        return [None] * len(columns)
    memo[:] = exact, raw
    saved, ctx.prec = ctx.prec, rel_bits  # abs() and the division round: far below a unit
    try:
        size = abs(exact)
        rels = [[abs(cell[2]) / size if cell[1] is exact and not cell[3] and not cell[4] else None
                 for cell in cells] for cells in columns]
    finally:
        ctx.prec = saved
    balls: list = []
    for cells, column_rels in zip(columns, rels):
        for cell, rel in zip(cells, column_rels):
            if rel is not None:
                balls += cell[0], cell[2], rel
    raws = iter(rounded_raws(balls, dps, prec))
    out = []
    for column_rels in rels:
        numbers = []
        for rel in column_rels:
            row = None
            if rel is not None:
                approx, error, rel = next(raws), next(raws), next(raws)
                if approx is not None and error is not None and rel is not None:
                    row = approx, raw, error, rel
            numbers.append(row)
        out.append(numbers)
    return out


def mp_columns(st, steps, step_floats, cells, dps: int, refine=None, memo: list | None = None,
               rounded: list | None = None) -> dict[str, list]:
    """The table's columns for one scheme from its certified cells.

    An error proved below the resolution reads 0 (so does a quotient of an
    exact derivative 0 below its own resolution); ``error_radius`` bounds
    the distance from each error's ball midpoint to the true error.  Numbers
    equal by construction (the exact value, zeros, NaN) are one shared ``mpf``:
    fewer objects for the garbage collector to walk afterwards.

    ``rounded`` holds the numbers of the rows :func:`round_rows` rounded (None: none);
    every other row goes through :func:`cell_numbers`, with ``memo``, which the schemes of
    a study share.  The same balls, the same roundings either way: ``rounded=None``
    (every row through :func:`cell_numbers`) gives the same columns.
    """
    values, exacts, errs, sizes, rels, radii, size_floats = [], [], [], [], [], [], []
    make, new, mpf, ldexp = mpmath.mp.make_mpf, _NEW, _MPF, math.ldexp
    rnd = round_nearest
    nan, zero = make(fnan), make(fzero)
    last_raw, exact = None, None
    if memo is None:
        memo = [None, None]
    for j, cell in enumerate(cells):
        numbers = None if rounded is None else rounded[j]
        if numbers is None:
            cell, numbers = cell_numbers(cell, dps, refine, j, memo)
        approx_raw = numbers[0]
        if approx_raw is None:
            values.append(zero)
        else:
            value = new(mpf)
            value._mpf_ = approx_raw
            values.append(value)
        error_ball, below = cell[2], cell[3]
        if cell[1] is None:  # no derivative at the point: nothing to compare with
            for column in (exacts, errs, sizes, rels, radii):
                column.append(nan)
            size_floats.append(math.nan)
            continue
        raw_exact = numbers[1]
        if raw_exact != last_raw:  # one exact value serves most cells: one mpf for it
            last_raw, exact = raw_exact, make(raw_exact)
        exacts.append(exact)
        if below:
            errs.append(zero)
            sizes.append(zero)
            rels.append(zero if raw_exact != fzero else nan)
            radii.append(to_mpf(abs(error_ball).abs_upper()))
            size_floats.append(0.0)
            continue
        error = numbers[2]
        value = new(mpf)
        value._mpf_ = error
        errs.append(value)
        sign, man, exp, bc = error
        if sign:  # correctly rounded: |error| is the same tuple with the sign cleared
            size = (0, man, exp, bc)
            value = new(mpf)
            value._mpf_ = size
        else:
            size = error
        sizes.append(value)
        # float(|error|), as observed_order takes it: to_float rounds the mantissa to 53 bits
        # (to nearest, as float() of an integer does) and scales it; outside the range where
        # that cannot overflow, to_float itself
        size_floats.append(ldexp(float(man), exp) if bc < 1000 and -1000 < exp + bc < 1000
                           else to_float(size, rnd=rnd))
        if raw_exact != fzero:
            value = new(mpf)
            value._mpf_ = numbers[3]
            rels.append(value)
        else:
            rels.append(nan)
        man, exp = error_ball.rad().man_exp()  # the radius is exact: no rounding
        value = new(mpf)
        value._mpf_ = from_man_exp(int(man), int(exp))
        radii.append(value)
    orders = observed_order(sizes, steps, size_floats, step_floats)
    return _columns(st, steps, values, exacts, errs, sizes, rels, radii, orders)


def _columns(st, steps, values, exacts, errs, sizes, rels, radii, orders=None) -> dict[str, list]:
    n = len(values)
    if orders is None:
        orders = observed_order(sizes, steps)
    return {"scheme": [st.name] * n, "derivative": [st.derivative] * n, "eps": list(steps),
            "approx": values, "exact": exacts, "error": errs, "abs_error": sizes,
            "rel_error": rels, "observed_order": orders,
            "theoretical_order": [st.accuracy] * n, "error_radius": radii}


def float64_columns(st, steps, approx, exact, errors, dps: int) -> dict[str, list]:
    """The columns of one float64 scheme: the doubles, and their certified errors rounded
    to ``dps`` digits and then to doubles."""
    values, errs, sizes, rels, radii = [], [], [], [], []
    with mpmath.workdps(dps):
        prec, rnd = mpmath.mp._prec_rounding
        # the exact value correctly rounded (its midpoint's rounding if the ball does not decide it)
        raw_exact = (rounded_raw(exact, dps, prec) or _rounded(exact, prec, rnd)) if exact.is_finite() else fnan
        exact_value_ = mpmath.mp.make_mpf(raw_exact)
        for value, (error, radius) in zip(approx, errors):
            if raw_exact == fnan:  # no derivative at the point
                error = fnan
            else:
                error = fzero if error is None else _rounded(error, prec, rnd)
            size = mpf_abs(error, prec, rnd)
            rel = mpf_div(size, mpf_abs(raw_exact, prec, rnd), prec, rnd) if raw_exact != fzero else fnan
            values.append(float(value))
            errs.append(to_float(error, rnd=rnd))
            sizes.append(to_float(size, rnd=rnd))
            rels.append(to_float(rel, rnd=rnd))
            radii.append(float(to_mpf(radius)))
    return _columns(st, steps, values, [exact_value_] * len(values), errs, sizes, rels, radii)


#: the dtype of each column of an mp table whose values have one known type: mpmath numbers
#: (object), the orders of the stencils (integers) and the observed orders (floats)
_MP_DTYPES = {**dict.fromkeys(["eps", "approx", "exact", "error", "abs_error", "rel_error", "error_radius"],
                              object),
              "derivative": np.int64, "theoretical_order": np.int64, "observed_order": np.float64}


def table_frame(parts: list[dict], columns: list[str], mp: bool) -> pd.DataFrame:
    """The table of the schemes' columns, in the order of ``columns``.

    An mp table is built from its blocks (pandas' ``create_dataframe_from_blocks``):
    one 2-D array per dtype of :data:`_MP_DTYPES` and the schemes' strings, the
    blocks pandas itself would make, without its inspection of every value (half
    the cost of a short study's table).  A float64 table goes through the constructor.
    """
    if not mp:
        data = {c: [v for part in parts for v in part[c]] for c in columns}
        return pd.DataFrame(data, copy=False)
    n = sum(len(part["scheme"]) for part in parts)
    blocks = []
    for dtype, names, places in _mp_blocks(tuple(columns)):
        values: list = []
        for c in names:
            for part in parts:
                values += part[c]
        # one fromiter of the block's values, row after row: it stores the objects as they
        # are (a list assigned to an object array makes numpy ask every mpf whether it is
        # an array, three failed attribute lookups each)
        blocks.append((np.fromiter(values, dtype, len(values)).reshape(len(names), n), places.copy()))
    # the scheme names: a copy of the array made once per list of (name, rows) (building one
    # validates every string; a copy of a validated one does not, and is the table's own)
    schemes = _scheme_array(tuple((part["scheme"][0], len(part["scheme"])) for part in parts if part["scheme"]))
    blocks.append((schemes.copy(), np.array([columns.index("scheme")], dtype=np.intp)))
    # RangeIndex of a range: the same index, without the checks of RangeIndex(n)'s arguments;
    # the columns a view of one shared index: its own object (a name set on one table's
    # columns is that table's), the labels not copied
    return create_dataframe_from_blocks(blocks, pd.RangeIndex(range(n)), _index(tuple(columns)).view())


#: the string array pandas makes of a column of text (its default ``str`` dtype)
_STRINGS = pd.array([""], dtype="str")


def _strings(values: list):
    """``values`` as the string array pandas would infer for them (its python-storage
    array straight from an object array, without the type inspection of ``pd.array``)."""
    if isinstance(_STRINGS, pd.arrays.StringArray):
        return pd.arrays.StringArray(np.array(values, dtype=object), dtype=_STRINGS.dtype)
    return pd.array(values, dtype="str")


@lru_cache(maxsize=256)
def _scheme_array(counts: tuple[tuple[str, int], ...]):
    """The ``scheme`` column of an mp table: each name repeated for its rows."""
    return _strings([name for name, rows in counts for _ in range(rows)])


@lru_cache(maxsize=16)
def _index(columns: tuple) -> pd.Index:
    """The columns' index (an immutable object: one per column list serves every table)."""
    return pd.Index(columns)


@lru_cache(maxsize=16)
def _mp_blocks(columns: tuple) -> list[tuple[object, list[str], np.ndarray]]:
    """``(dtype, column names, their places in columns)`` of each numeric block of an mp
    table (:data:`_MP_DTYPES`)."""
    blocks: dict = {}
    for c in columns:
        if c in _MP_DTYPES:
            blocks.setdefault(_MP_DTYPES[c], []).append(c)
    return [(dtype, names, np.array([columns.index(c) for c in names], dtype=np.intp))
            for dtype, names in blocks.items()]
