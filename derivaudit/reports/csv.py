"""CSV text of results: every computed digit kept as text, float64 columns beside.

Only renders; :mod:`derivaudit.reports.files` writes.
"""

from __future__ import annotations

import mpmath
import pandas as pd

from derivaudit.echo import escape_controls
from derivaudit.reports.tables import audit_entries, audit_steps, check_summary, result_kind, study_summary
from derivaudit.reports.text import file_stem, format_number

__all__ = ["csv_frame", "csv_tables", "csv_texts"]


def csv_frame(table: pd.DataFrame, f64: bool = True) -> pd.DataFrame:
    """The table with every number as decimal text carrying all its digits.

    Parameters
    ----------
    table : pandas.DataFrame
        Any result table; ``table.attrs["dps"]`` (if set) bounds the digits.
    f64 : bool
        Follow each column holding mpmath numbers by ``<column>_f64``, the
        same numbers rounded to float64 (0.0 where they underflow), for tools
        that only want floats.

    Returns
    -------
    pandas.DataFrame
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


def _audit_tables(result) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    long = audit_steps(result)
    tables = {"steps": long}
    for c in result.claims:
        entries = audit_entries(c)
        entries.attrs["dps"] = result.settings.dps
        tables[f"{file_stem(c.parameter)}_entries"] = csv_frame(entries)
    tables["summary"] = result.table()
    return long, tables


def _study_tables(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    from derivaudit.studies.stencil_verdicts import stencil_table

    long = csv_frame(table)
    tables = {"study": long, "summary": csv_frame(study_summary(table))}
    stencils = stencil_table(table)
    if len(stencils):  # a user's stencils: offsets, weights as given, moments and verdict
        tables["stencils"] = stencils
        columns = stencils[["scheme", "offsets", "weights", "moments", "verdict"]]
        long = long.merge(columns.add_prefix("stencil_").rename(columns={"stencil_scheme": "scheme"}),
                          on="scheme", how="left")
    return long, tables


def csv_tables(result) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The tables of a result for CSV.

    Parameters
    ----------
    result : study table, CheckResult or AuditResult

    Returns
    -------
    long : pandas.DataFrame
        One long table (one row per claim, scheme and step), for a file target.
    tables : dict of str to pandas.DataFrame
        The tables by file stem, ``summary`` last, for a folder target.
    """
    kind = result_kind(result)
    if kind == "study":
        return _study_tables(result)
    if kind == "check":
        tables = {}
        for c in result.components:
            if c.evidence is not None:
                tables[file_stem(c.label)] = csv_frame(c.evidence.rename(columns={"claim": "claim_value"}))
        tables["summary"] = csv_frame(check_summary(result))
        return _check_long(result), tables
    return _audit_tables(result)


def csv_texts(result) -> tuple[str, dict[str, str]]:
    """:func:`csv_tables` rendered to CSV text: the long table and the folder's files by name."""
    long, tables = csv_tables(result)
    # user text (formulas, claims, comments) inside them: its control characters escaped
    return (escape_controls(long.to_csv(index=False), keep_layout=True),
            {f"{stem}.csv": escape_controls(table.to_csv(index=False), keep_layout=True)
             for stem, table in tables.items()})
