"""Results as tables: the rows every report format (CSV, HTML, JSON) draws from.

A study result holds its table (``StudyResult.table``); check, audit and
gradient-check results are typed objects, flattened here into one row per
claim, per step or per entry.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pandas as pd

from derivaudit.audits.results import AuditResult
from derivaudit.checks.results import CheckResult
from derivaudit.gradcheck.results import GradientCheckResult
from derivaudit.reports.text import formula_text, shape_text
from derivaudit.studies.result import StudyResult, SweepResult, study_parts

__all__ = ["KINDS", "result_kind", "study_summary", "check_summary", "audit_steps", "audit_entries",
           "gradient_entries", "relative_error"]

#: each result class and its ``kind`` in the JSON document (docs/reports.md), keyed by the class itself
KINDS: dict[type, str] = {StudyResult: "study", CheckResult: "check", AuditResult: "audit",
                          GradientCheckResult: "gradient", SweepResult: "sweep"}


def result_kind(result) -> str:
    """What a result is: ``"study"``, ``"check"``, ``"audit"``, ``"gradient"`` or ``"sweep"``.

    Parameters
    ----------
    result : StudyResult, CheckResult, AuditResult, GradientCheckResult or SweepResult

    Returns
    -------
    str

    Raises
    ------
    TypeError
        For any other object (a bare DataFrame included: pass the StudyResult).
    """
    for cls in type(result).__mro__:
        if cls in KINDS:
            return KINDS[cls]
    hint = "; pass the StudyResult derivaudit.study returned" if isinstance(result, pd.DataFrame) else ""
    raise TypeError(f"no report for a {type(result).__name__}; expected a StudyResult, CheckResult, "
                    f"AuditResult, GradientCheckResult or SweepResult{hint}")


def relative_error(claim, exact) -> float:
    """``|claim − exact| / |exact|`` as a float.

    ``|claim − exact|`` where exact is 0; NaN if either is missing.  (The
    symmetric relative difference of gradient checks is
    :func:`derivaudit.verdicts.relative_difference`.)

    >>> relative_error("3.0301", 3)
    0.010033333333333339
    """
    if claim is None or exact is None:
        return math.nan
    claim, exact = mpmath.mpf(claim), mpmath.mpf(exact)
    with mpmath.workdps(max(mpmath.mp.dps, 30)):
        difference = abs(claim - exact)
        return float(difference / abs(exact)) if exact != 0 else float(difference)


def study_summary(study) -> pd.DataFrame:
    """Per scheme of a study, its fitted order and best step.

    Parameters
    ----------
    study : StudyResult
        What :func:`derivaudit.study` returned.

    Returns
    -------
    pandas.DataFrame
        Columns ``scheme, theoretical_order, fitted_order, steps_used,
        best_eps, min_abs_error``.
    """
    from derivaudit.studies.orders import best_steps, fitted_orders

    fitted = fitted_orders(study)
    summary = fitted.merge(best_steps(study_parts(study)[0]), on="scheme", how="left", sort=False)
    return summary[["scheme", "theoretical_order", "fitted_order", "steps_used", "best_eps",
                    "min_abs_error"]]


def check_summary(result) -> pd.DataFrame:
    """One row per claimed derivative of a :class:`~derivaudit.CheckResult`.

    Parameters
    ----------
    result : CheckResult

    Returns
    -------
    pandas.DataFrame
        Columns ``component, variable, order, verdict, correct, claim_typed,
        claim, exact, difference, likely_mistake, counterexample,
        claim_value, exact_value, rel_difference, method``; the values are
        those at the counterexample (wrong claims) or at the given point.
        ``claim_typed`` is the claim as the user typed it, ``claim`` its
        canonical form.
    """
    rows = []
    for c in result.components:
        comparison = c.comparison
        if comparison.counterexample is not None:
            claim_value, exact_value = comparison.claim_value, comparison.exact_value
        else:
            claim_value, exact_value = c.claim_at_point, c.exact_at_point
        rows.append({
            "component": c.label, "variable": c.variable, "order": c.order, "verdict": str(c.verdict),
            "correct": c.correct, "claim_typed": c.claim_text or formula_text(c.claim),
            "claim": formula_text(c.claim), "exact": formula_text(c.exact),
            "difference": formula_text(c.difference),
            "likely_mistake": "; ".join(f"{d.mistake}: {d.message}" for d in c.diagnosis),
            "counterexample": ", ".join(f"{k}={v}" for k, v in (comparison.counterexample or {}).items()),
            "claim_value": claim_value if claim_value is not None else math.nan,
            "exact_value": exact_value if exact_value is not None else math.nan,
            "rel_difference": relative_error(claim_value, exact_value),
            "method": comparison.method,
        })
    return pd.DataFrame(rows)


def audit_steps(result) -> pd.DataFrame:
    """One row per (claim, scheme, step) of an audit's convergence evidence.

    Parameters
    ----------
    result : AuditResult

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter, shape, verdict, scheme, eps, eps_f64,
        rel_difference, observed_order``.  ``rel_difference`` is
        ``‖claim − g_h‖ / (‖claim‖ + ‖g_h‖)`` against the centered
        differences ``g_h`` of the loss at step ``h``; its observed order is
        2 for a right claim and about 0 for a wrong one.  ``eps`` is the
        exact decimal text of the step.
    """
    from derivaudit.studies.orders import observed_order

    rows = []
    for c in result.claims:
        steps = [mpmath.mpf(h) for h in c.steps]
        orders = observed_order(c.rel_by_step, steps)
        for h, rel, q in zip(c.steps, c.rel_by_step, orders):
            rows.append({"parameter": c.parameter, "shape": shape_text(c.shape), "verdict": c.verdict,
                         "scheme": "centered", "eps": str(h), "eps_f64": float(mpmath.mpf(h)),
                         "rel_difference": rel, "observed_order": q})
    return pd.DataFrame(rows, columns=["parameter", "shape", "verdict", "scheme", "eps", "eps_f64",
                                       "rel_difference", "observed_order"])


def audit_entries(claim) -> pd.DataFrame:
    """One row per entry of a claimed gradient.

    Parameters
    ----------
    claim : ClaimResult
        One claim of an audit.

    Returns
    -------
    pandas.DataFrame
        Columns ``entry, index, wrong, abs_difference``: ``abs_difference``
        is ``|claim − exact|`` at the audit's first random point when the
        audit recorded it (``ClaimResult.entry_abs_difference``), else NaN;
        entries the audit found right everywhere read 0.
    """
    shape = tuple(claim.shape)
    wrong = {tuple(w) for w in claim.wrong_entries}
    values = list(claim.entry_abs_difference or [])
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


def gradient_entries(result) -> pd.DataFrame:
    """One row per entry of a gradient check, the wrong entries first (worst first), then the rest.

    Parameters
    ----------
    result : GradientCheckResult

    Returns
    -------
    pandas.DataFrame
        Columns ``entry, wrong, analytic, numeric, difference, rel_error,
        band, uncertainty``: ``rel_error`` is ``|gᵢ − nᵢ|/(|gᵢ| + |nᵢ|)`` and
        ``band`` its word (:data:`derivaudit.verdicts.GRADIENT_BANDS`).
    """
    from derivaudit.verdicts import gradient_band

    size = int(np.asarray(result.analytic).size)
    table = result.worst(size)
    wrong = {str(w) for w in result.wrong}
    flags = [str(i) in wrong for i in table["index"]]
    uncertainty = np.asarray(result.uncertainty, float).ravel()
    labels = [result.labels[k] if result.labels is not None else
              tuple(int(i) for i in np.unravel_index(k, np.asarray(result.theta).shape)) for k in range(size)]
    by_label = {str(label): float(uncertainty[k]) for k, label in enumerate(labels)} if size else {}
    table.insert(1, "wrong", flags)
    table["band"] = [gradient_band(e) for e in table["rel_error"]]
    table["uncertainty"] = [by_label.get(str(i), math.nan) for i in table["index"]]
    table = table.rename(columns={"index": "entry"})
    table["entry"] = [str(i) for i in table["entry"]]
    return table.sort_values("wrong", ascending=False, kind="stable").reset_index(drop=True)
