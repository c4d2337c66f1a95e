"""Reports of study tables: text for the terminal and CSV files.

Files are written atomically: into a temporary file in the target folder,
then renamed over the target, so a failed or interrupted run never leaves a
half-written report and never truncates an existing one.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path

import mpmath
import pandas as pd

from .errors import ReportError

__all__ = ["format_number", "table_as_text", "csv_frame", "write_csv", "atomic_write_text"]


def format_number(value, digits: int | None = None) -> str:
    """Decimal text of a table value.

    mpmath numbers print with ``digits`` significant digits (all they carry
    when ``digits`` is None: ``nstr`` drops trailing zeros, so 3.0301 at 50
    digits reads ``3.0301``); floats print with ``repr`` precision or
    ``digits``; NaN prints as an empty string in CSV and ``nan`` in text.
    """
    if isinstance(value, mpmath.mpf):
        if digits is None:
            digits = _digits_of(value)
        return mpmath.nstr(value, digits, min_fixed=-5, max_fixed=digits + 1)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if digits is None else f"{value:.{digits}g}"
    return str(value)


def _digits_of(value: mpmath.mpf) -> int:
    """Decimal digits an mpf carries: its mantissa's bit count, at least 17."""
    return max(17, mpmath.libmp.prec_to_dps(max(value._mpf_[3], 1)))


def table_as_text(table: pd.DataFrame, digits: int = 20,
                  columns=("scheme", "eps", "approx", "exact", "abs_error", "observed_order")) -> str:
    """The table as aligned text, numbers at ``digits`` significant digits."""
    shown = pd.DataFrame({c: [format_number(v, digits) if c != "observed_order" else
                              ("" if math.isnan(v) else f"{v:.4f}") for v in table[c]]
                          for c in columns})
    return shown.to_string(index=False)


def csv_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The table with every number as decimal text carrying all its digits."""
    dps = table.attrs.get("dps")
    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        values = table[column]
        if values.map(lambda v: isinstance(v, mpmath.mpf)).any():
            out[column] = [format_number(v, dps) if isinstance(v, mpmath.mpf) else format_number(v)
                           for v in values]
        else:
            out[column] = values
    return out


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and a rename.

    Creates missing parent folders.  On any failure the temporary file is
    removed and the previous content of ``path`` (if any) is untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise ReportError(f"cannot write {path}: it is a folder")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except ReportError:
        raise
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return path


def write_csv(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a study table as CSV, every computed digit kept as text."""
    return atomic_write_text(path, csv_frame(table).to_csv(index=False))
