"""CSV text of results: every computed digit kept as text, float64 columns beside.

Only renders; :mod:`derivaudit.reports.files` writes.
"""

from __future__ import annotations

import mpmath
import pandas as pd

from derivaudit.echo import escape_controls
from derivaudit.reports.tables import (audit_entries, audit_steps, check_summary, gradient_entries, result_kind,
                                       study_summary)
from derivaudit.reports.text import file_stem, format_number

__all__ = ["csv_frame", "csv_tables", "csv_texts"]


def csv_frame(table: pd.DataFrame, f64: bool = True, dps: int | None = None) -> pd.DataFrame:
    """The table with every number as decimal text carrying all its digits.

    Parameters
    ----------
    table : pandas.DataFrame
        Any result table.
    f64 : bool
        Follow each column holding mpmath numbers by ``<column>_f64``, the
        same numbers rounded to float64 (0.0 where they underflow), for tools
        that only want floats.
    dps : int, optional
        The digits the result certified (its ``dps``): mpmath numbers print no more.

    Returns
    -------
    pandas.DataFrame
    """
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
        frame = csv_frame(c.evidence.table.rename(columns={"claim": "claim_value"}), dps=result.dps)
        for i, (key, value) in enumerate(head.items()):
            frame.insert(i, key, value)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _audit_tables(result) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    long = audit_steps(result)
    tables = {"steps": long}
    for c in result.claims:
        if c.claim_shape is not None:  # an invalid claim has no entries to compare
            tables[f"{file_stem(c.parameter)}_entries"] = csv_frame(audit_entries(c), dps=result.settings.dps)
    tables["summary"] = result.table()
    return long, tables


def _study_tables(result) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    from derivaudit.studies.stencil_verdicts import stencil_table

    long = csv_frame(result.table, dps=result.dps)
    tables = {"study": long, "summary": csv_frame(study_summary(result), dps=result.dps)}
    stencils = stencil_table(result)
    if len(stencils):  # a user's stencils: offsets, weights as given, moments and verdict
        tables["stencils"] = stencils
        columns = stencils[["scheme", "offsets", "weights", "moments", "verdict"]]
        long = long.merge(columns.add_prefix("stencil_").rename(columns={"stencil_scheme": "scheme"}),
                          on="scheme", how="left")
    return long, tables


def _sweep_tables(result) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    from derivaudit.studies.parallel import combine, sweep_summary

    digits = {s.dps for s in result.studies}
    dps = digits.pop() if len(digits) == 1 else None
    long = csv_frame(combine(result.studies), dps=dps)
    return long, {"sweep": long, "summary": csv_frame(sweep_summary(result.studies), dps=dps)}


def _gradient_tables(result) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    entries = gradient_entries(result)
    tables = {"entries": entries}
    if result.sweep is not None:
        tables["sweep"] = result.sweep
    tables["summary"] = pd.DataFrame([{
        "verdict": result.verdict, "ok": result.ok, "relative_difference": result.relative_difference,
        "wrong_entries": len(result.wrong), "entries": len(entries), "method": result.method, "eps": result.eps,
        "precision": result.precision, "dps": result.dps, "cause": result.cause, "notes": "; ".join(result.notes)}])
    return entries, tables


def csv_tables(result) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The tables of a result for CSV.

    Parameters
    ----------
    result : StudyResult, CheckResult, AuditResult, GradientCheckResult or SweepResult

    Returns
    -------
    long : pandas.DataFrame
        One long table (one row per claim, scheme and step), for a file target.
    tables : dict of str to pandas.DataFrame
        The tables by file stem, ``summary`` last, for a folder target.
    """
    kind = result_kind(result)
    if kind == "grade":  # one row per submission; the folder adds the counts per grade
        from derivaudit.reports.grade_tables import grade_rows

        rows = grade_rows(result)
        counts = pd.DataFrame(list(result.counts.items()), columns=["verdict", "submissions"])
        return rows, {"grades": rows, "summary": counts}
    if kind == "check":
        tables = {}
        for c in result.components:
            if c.evidence is not None:
                tables[file_stem(c.label)] = csv_frame(c.evidence.table.rename(columns={"claim": "claim_value"}),
                                                       dps=result.dps)
        tables["summary"] = csv_frame(check_summary(result), dps=result.dps)
        return _check_long(result), tables
    builders = {"study": _study_tables, "audit": _audit_tables, "gradient": _gradient_tables,
                "sweep": _sweep_tables}
    return builders[kind](result)


def csv_texts(result) -> tuple[str, dict[str, str]]:
    """:func:`csv_tables` rendered to CSV text: the long table and the folder's files by name."""
    long, tables = csv_tables(result)
    # user text (formulas, claims, comments) inside them: its control characters escaped
    return (escape_controls(long.to_csv(index=False), keep_layout=True),
            {f"{stem}.csv": escape_controls(table.to_csv(index=False), keep_layout=True)
             for stem, table in tables.items()})
