"""Reports: text for the terminal, CSV files and self-contained HTML pages.

:func:`write_csv` and :func:`write_html` take any result — a study table
(a DataFrame whose metadata is in ``table.attrs``), a check result or an
audit result — and write it.  CSV keeps every computed digit as text with
float64 columns beside it; HTML is one file with its plots inline as SVG,
its style inline and no reference to anything outside it.

Files are written atomically: into a temporary file in the target folder,
then renamed over the target, so a failed or interrupted run never leaves a
half-written report and never truncates an existing one.  A target ending in
a path separator or without a suffix (``reports/mlp/``, ``reports/mlp``) is a
folder: it gets one CSV per table plus ``summary.csv``; every file is
rendered in memory before the first one is written.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path

import mpmath
import numpy as np
import pandas as pd

from derivaudit.errors import DerivauditError, ReportError

__all__ = ["format_number", "scientific", "table_as_text", "csv_frame", "study_summary", "write_csv",
           "write_html", "render_html", "atomic_write_text", "check_summary", "relative_difference",
           "audit_steps", "audit_entries"]


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


def scientific(value, digits: int = 4) -> str:
    """``value`` in scientific notation with ``digits`` significant digits (``3.010e-02``).

    mpmath numbers keep their exponent however small (``1.000e-500``);
    zero prints as ``0`` and NaN as an empty string.
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


def csv_frame(table: pd.DataFrame, f64: bool = True) -> pd.DataFrame:
    """The table with every number as decimal text carrying all its digits.

    With ``f64`` each column holding mpmath numbers is followed by
    ``<column>_f64``, the same numbers rounded to float64 (0.0 where they
    underflow), for tools that only want floats.
    """
    dps = table.attrs.get("dps")
    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        values = table[column]
        if values.map(lambda v: isinstance(v, mpmath.mpf)).any():
            out[column] = [format_number(v, dps) if isinstance(v, mpmath.mpf) else format_number(v)
                           for v in values]
            if f64:
                out[f"{column}_f64"] = [float(v) for v in values]
        else:
            out[column] = values
    return out


def study_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per scheme: ``scheme, theoretical_order, fitted_order, steps_used, best_eps, min_abs_error``."""
    from derivaudit.studies.orders import best_steps, fitted_orders  # study imports report's neighbours; keep import lazy

    fitted = fitted_orders(table)
    summary = fitted.merge(best_steps(table), on="scheme", how="left", sort=False)
    summary.attrs = dict(table.attrs)
    return summary[["scheme", "theoretical_order", "fitted_order", "steps_used", "best_eps",
                    "min_abs_error"]]


def _umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and a rename.

    Creates missing parent folders.  On any failure the temporary file is
    removed and the previous content of ``path`` (if any) is untouched.  The
    file gets the permissions of the report it replaces, or the usual ones
    for a new file (``mkstemp`` alone would leave it readable only by its owner).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise ReportError(f"cannot write {path}: it is a folder")
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
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
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return path


def _is_folder(path: str | os.PathLike) -> bool:
    """A target ending in a separator, or without a suffix, names a folder."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or Path(text).suffix == ""


def _result_kind(result) -> str:
    """``"study"``, ``"check"`` or ``"audit"``; TypeError for anything else."""
    if isinstance(result, pd.DataFrame):
        return "study"
    from derivaudit.checks.results import CheckResult

    if isinstance(result, CheckResult):
        return "check"
    from derivaudit.audits.results import AuditResult

    if isinstance(result, AuditResult):
        return "audit"
    raise TypeError(f"no report for a {type(result).__name__}; expected a study table, "
                    "a CheckResult or an AuditResult")


def _slug(text: str) -> str:
    """A file stem from a label: ``d^2f/dx^2`` → ``d2f_dx2``."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in text).strip("_")
    while "__" in stem:
        stem = stem.replace("__", "_")
    return stem or "table"


def formula_text(expr) -> str:
    """``expr`` in the formula language, or sympy's text where it has no formula form."""
    from derivaudit.lang.parse import format_formula

    try:
        return format_formula(expr)
    except DerivauditError:
        return str(expr)


def relative_difference(claim, exact) -> float:
    """``|claim − exact| / |exact|`` as a float (``|claim − exact|`` where exact is 0; NaN if either is missing)."""
    if claim is None or exact is None:
        return math.nan
    claim, exact = mpmath.mpf(claim), mpmath.mpf(exact)
    with mpmath.workdps(max(mpmath.mp.dps, 30)):
        difference = abs(claim - exact)
        return float(difference / abs(exact)) if exact != 0 else float(difference)


def check_summary(result) -> pd.DataFrame:
    """One row per claimed derivative of a :class:`~derivaudit.check.CheckResult`.

    Columns ``component, variable, order, verdict, correct, claim, exact,
    difference, likely_mistake, counterexample, claim_value, exact_value,
    rel_difference, method``; the values are those at the counterexample
    (wrong claims) or at the given point.
    """
    text = formula_text
    rows = []
    for c in result.components:
        comparison = c.comparison
        if comparison.counterexample is not None:
            claim_value, exact_value = comparison.claim_value, comparison.exact_value
        else:
            claim_value, exact_value = c.claim_at_point, c.exact_at_point
        rows.append({
            "component": c.label, "variable": c.variable, "order": c.order, "verdict": str(c.verdict),
            "correct": c.correct, "claim": text(c.claim), "exact": text(c.exact),
            "difference": text(c.difference),
            "likely_mistake": "; ".join(f"{d.mistake}: {d.message}" for d in c.diagnosis),
            "counterexample": ", ".join(f"{k}={v}" for k, v in (comparison.counterexample or {}).items()),
            "claim_value": claim_value if claim_value is not None else math.nan,
            "exact_value": exact_value if exact_value is not None else math.nan,
            "rel_difference": relative_difference(claim_value, exact_value),
            "method": comparison.method,
        })
    table = pd.DataFrame(rows)
    table.attrs["dps"] = result.dps
    return table


def _check_long(result) -> pd.DataFrame:
    """Every evidence row of every component, labelled; a component without evidence is one row."""
    parts = []
    for c in result.components:
        head = {"component": c.label, "verdict": str(c.verdict)}
        if c.evidence is None:
            parts.append(pd.DataFrame([head]))
            continue
        frame = csv_frame(c.evidence.rename(columns={"claim": "claim_value"}))
        for i, (key, value) in enumerate(head.items()):
            frame.insert(i, key, value)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _csv_tables(result) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The long table of ``result`` (for a file target) and its tables by file stem (for a folder)."""
    kind = _result_kind(result)
    if kind == "study":
        from derivaudit.studies.stencil_verdicts import stencil_table

        long = csv_frame(result)
        tables = {"study": long, "summary": csv_frame(study_summary(result))}
        stencils = stencil_table(result)
        if len(stencils):  # a user's stencils: offsets, weights as given, moments and verdict
            tables["stencils"] = stencils
            columns = stencils[["scheme", "offsets", "weights", "moments", "verdict"]]
            long = long.merge(columns.add_prefix("stencil_").rename(columns={"stencil_scheme": "scheme"}),
                              on="scheme", how="left")
        return long, tables
    if kind == "check":
        tables = {}
        for c in result.components:
            if c.evidence is not None:
                tables[_slug(c.label)] = csv_frame(c.evidence.rename(columns={"claim": "claim_value"}))
        tables["summary"] = csv_frame(check_summary(result))
        return _check_long(result), tables
    return _audit_tables(result)


def audit_steps(result) -> pd.DataFrame:
    """One row per (claim, scheme, step) of an audit's convergence evidence.

    Columns ``parameter, shape, verdict, scheme, eps, rel_difference,
    observed_order``: ``rel_difference`` is ``‖claim − g_h‖ / (‖claim‖ + ‖g_h‖)``
    against the centered differences ``g_h`` of the loss at step ``h``; its
    observed order is 2 for a right claim and about 0 for a wrong one.
    ``eps`` is the exact decimal text of the step.
    """
    from derivaudit.studies.orders import observed_order

    rows = []
    for c in result.claims:
        steps = [mpmath.mpf(h) for h in c.steps]
        orders = observed_order(c.rel_by_step, steps)
        for h, rel, q in zip(c.steps, c.rel_by_step, orders):
            rows.append({"parameter": c.parameter, "shape": _shape_text(c.shape), "verdict": c.verdict,
                         "scheme": "centered", "eps": str(h), "eps_f64": float(mpmath.mpf(h)),
                         "rel_difference": rel, "observed_order": q})
    return pd.DataFrame(rows, columns=["parameter", "shape", "verdict", "scheme", "eps", "eps_f64",
                                       "rel_difference", "observed_order"])


def _shape_text(shape) -> str:
    return "x".join(map(str, shape)) or "scalar"


def audit_entries(claim) -> pd.DataFrame:
    """One row per entry of a claimed gradient: ``entry, index, wrong, abs_difference``.

    ``abs_difference`` is ``|claim − exact|`` at the audit's first random
    point when the audit recorded it (``ClaimResult.entry_abs_difference``),
    else NaN; entries the audit found right everywhere read 0.
    """
    shape = tuple(claim.shape)
    wrong = {tuple(w) for w in claim.wrong_entries}
    values = list(getattr(claim, "entry_abs_difference", None) or [])
    indices = [tuple(int(i) for i in ix) for ix in np.ndindex(*shape)] if shape else [()]
    rows = []
    for flat, index in enumerate(indices):
        is_wrong = index in wrong
        if not is_wrong:
            value = mpmath.mpf(0)
        elif flat < len(values):
            # an mpf is kept as it is: mpf(x) outside workdps would round it to 15 digits
            value = values[flat] if isinstance(values[flat], mpmath.mpf) else mpmath.mpf(values[flat])
        else:
            value = math.nan
        label = f"{claim.parameter}[{','.join(map(str, index))}]" if index else claim.parameter
        rows.append({"entry": label, "index": ",".join(map(str, index)), "wrong": is_wrong,
                     "abs_difference": value})
    return pd.DataFrame(rows, columns=["entry", "index", "wrong", "abs_difference"])


def _audit_tables(result) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    long = audit_steps(result)
    tables = {"steps": long}
    for c in result.claims:
        entries = audit_entries(c)
        entries.attrs["dps"] = result.settings.dps
        tables[f"{_slug(c.parameter)}_entries"] = csv_frame(entries)
    tables["summary"] = result.table()
    return long, tables


def write_csv(result, path: str | os.PathLike) -> Path:
    """Write ``result`` (study table, check or audit result) as CSV.

    A file target gets one long table — one row per (claim, scheme, ε) —
    with every computed digit kept as text and ``*_f64`` float columns
    beside the text ones; ``pandas.read_csv`` reads it back.  A folder
    target (``reports/mlp/``) gets one CSV per table plus ``summary.csv``.
    Returns the path written.
    """
    long, tables = _csv_tables(result)
    if not _is_folder(path):
        return atomic_write_text(path, long.to_csv(index=False))
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ReportError(f"cannot write CSV files into {folder}: it is a file; "
                          "give a folder path or a .csv file name")
    texts = {folder / f"{stem}.csv": table.to_csv(index=False) for stem, table in tables.items()}
    for target, text in texts.items():
        atomic_write_text(target, text)
    return folder


def render_html(result) -> str:
    """The self-contained HTML report of ``result`` as text."""
    from derivaudit.reports.html import render  # matplotlib and jinja2 load only when HTML is asked for

    return render(result)


def write_html(result, path: str | os.PathLike) -> Path:
    """Write the self-contained HTML report of ``result`` (study table, check or audit result).

    The page is rendered completely before the file is touched.
    """
    if os.fspath(path).endswith(("/", os.sep)):
        raise ReportError(f"cannot write {path}: an HTML report is one file; give a file name "
                          "such as reports/cubic.html")
    return atomic_write_text(path, render_html(result))
