"""Judging one claim: its verdict, proof, diagnosis and evidence as a :class:`ClaimResult`.

An entry that differs at some random point is *wrong*, with that point as
the counterexample.  Entries that agree everywhere are then given to the
symbolic proof (:func:`~derivaudit.audits.proof.proved_entries`); proved
claims say ``proved``, the others ``numerical``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from derivaudit.lang.arrays import entries, shape_of
from derivaudit.limits import Limits
from derivaudit.verdicts import relative_difference
from derivaudit.audits.diagnose import diagnose_wrong, layout_notes
from derivaudit.audits.evidence import FiniteDifferences, convergence, grade
from derivaudit.audits.graph import ModelGraph
from derivaudit.audits.points import PointValues, in_parameter_layout
from derivaudit.audits.proof import proved_entries
from derivaudit.audits.results import ClaimResult, describe_entries
from derivaudit.audits.spec import AuditSettings, Model, claim_layout

__all__ = ["Evidence", "judge_claim"]


@dataclass
class Evidence:
    """Everything gathered about the model before its claims are judged one by one."""

    model: Model
    graph: ModelGraph
    inputs: tuple
    values: PointValues
    differences: dict[str, FiniteDifferences]
    claims_float64: dict[str, list[float]]
    settings: AuditSettings
    limits: Limits


def judge_claim(p: str, evidence: Evidence) -> ClaimResult:
    """The verdict on the claim for parameter ``p``, with its diagnosis and numeric evidence."""
    model, values, settings = evidence.model, evidence.values, evidence.settings
    spec = model.spec
    shape = spec.shapes[p]
    claim_shape = shape_of(model.claims[p])
    layout = claim_layout(claim_shape, shape)
    exact_at = lambda k: values.at(k, f"exact:{p}")  # noqa: E731
    claim_at = lambda k: in_parameter_layout(values.at(k, f"claim:{p}"), claim_shape, layout)  # noqa: E731
    wrong, first = values.wrong_indices(exact_at, claim_at, shape)
    status = "different" if wrong or layout != "same" else "numerical"
    diagnosis = layout_notes(p, shape, claim_shape, layout, bool(wrong))
    counterexample, difference, proved = {}, "", 0
    if wrong:
        k0 = first[int(np.ravel_multi_index(wrong[0], shape))] if shape else first[0]
        counterexample = {s.name: str(v) for s, v in zip(evidence.inputs, values.points[k0])}
        notes, difference = diagnose_wrong(p, wrong, layout, model, evidence.graph, evidence.inputs,
                                           values, evidence.limits)
        diagnosis += notes
    elif layout == "same":
        claim_entries = entries(model.claims[p])
        proved = proved_entries(claim_entries, entries(evidence.graph.gradient[p]), model, evidence.graph)
        if proved == len(claim_entries):
            status = "proved"
    converging = convergence(claim_at(0), exact_at(0), evidence.differences[p], settings)
    claim64 = np.array(in_parameter_layout(evidence.claims_float64[p], claim_shape, layout), dtype=float)
    rel64 = relative_difference(claim64, evidence.differences[p].float64)
    if layout == "transposed":
        rel64 = max(rel64, 1.0)
    return ClaimResult(
        parameter=p, shape=shape, claim=spec.claims[p].formula, claim_shape=claim_shape,
        status=status, wrong_entries=wrong,
        wrong_description=describe_entries(wrong, shape) if wrong else
        ("all (shape)" if layout != "same" else ""),
        diagnosis=diagnosis, difference=difference, counterexample=counterexample,
        rel_difference=float(converging.rel_by_step[-1]), rel_difference_float64=rel64,
        grade=grade(rel64, settings) if layout == "same" else "bug",
        order=converging.order, fd_order=converging.fd_order, steps=list(settings.steps),
        rel_by_step=[float(r) for r in converging.rel_by_step], proved_entries=proved,
        entries=math.prod(shape) if shape else 1, entry_abs_difference=converging.entry_abs_difference)
