"""Judging one claim: its verdict, proof, diagnosis and evidence as a :class:`ClaimResult`.

The verdict follows :mod:`derivaudit.audits.witness`: an entry whose ball of
``claim − exact`` excludes 0 at some random point is a certified witness and
the claim is *wrong*, with that point as the counterexample.  A claim with
no witness is given to the symbolic proof
(:func:`~derivaudit.audits.proof.proved_entries`, with the first point's drawn data);
proved claims say ``proved``.  Otherwise it is ``numerical`` when every value
was certified to ``dps`` digits and no witness turned up in the search at
higher precision, and ``undecided`` when some value could not be resolved.
A claim whose shape fits its parameter's in no way is wrong without numbers.
"""

from __future__ import annotations

import math

import numpy as np
from flint import arb

from derivaudit.budgets import time_budget
from derivaudit.core.balls import digits_to_bits
from derivaudit.errors import DerivauditError, LimitExceeded
from derivaudit.lang.arrays import entries, shape_of
from derivaudit.limits import Limits
from derivaudit.verdicts import relative_difference
from derivaudit.audits.context import Evidence
from derivaudit.audits.diagnose import diagnose_wrong, layout_notes, shape_note
from derivaudit.audits.evidence import Convergence, convergence, grade
from derivaudit.audits.points import in_parameter_layout
from derivaudit.audits.proof import proved_entries
from derivaudit.audits.results import ClaimResult, describe_entries, verdict_of
from derivaudit.audits.spec import AuditSettings, claim_layout
from derivaudit.audits.witness import Certificate, certify_claim, precision_cap, search_witnesses

__all__ = ["judge_claim", "NEAR_SWITCH_NOTE"]

#: why the finite-difference evidence of a model with kinks may mislead (no clear point was found)
NEAR_SWITCH_NOTE = ("no random point tried is clear of the model's switching points (relu, max/min, abs, "
                    "comparisons) by the largest finite-difference step: the differences at the first "
                    "point may step across one, so their orders and the float64 check are no evidence "
                    "there; smaller [audit] steps or another [audit] range would clear them")


def judge_claim(p: str, evidence: Evidence) -> ClaimResult:
    """The verdict on the claim for parameter ``p``, with its diagnosis and numeric evidence."""
    model, values, settings = evidence.model, evidence.values, evidence.settings
    shape = model.spec.shapes[p]
    claim_shape = shape_of(model.claims[p])
    layout = claim_layout(claim_shape, shape)
    if layout is None:
        return _result(p, evidence, "different", [], [shape_note(p, shape, claim_shape)], layout=None)
    claim_entries = entries(model.claims[p])
    certificate, proved = _certificate_and_proof(p, evidence, claim_shape, layout)
    wrong = [tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()
             for flat in sorted(certificate.witnesses)]
    diagnosis = layout_notes(p, shape, claim_shape, layout, bool(wrong))
    if layout == "same" and proved == len(claim_entries) and not wrong:
        return _result(p, evidence, "proved", [], diagnosis, layout, proved=proved)
    if wrong:
        witness_point = certificate.witnesses[int(np.ravel_multi_index(wrong[0], shape)) if shape else 0]
        notes, difference = diagnose_wrong(p, wrong, witness_point, layout, evidence)
        return _result(p, evidence, "different", wrong, diagnosis + notes, layout, proved=proved,
                       difference=difference, witness_point=witness_point)
    if layout != "same":
        return _result(p, evidence, "different", [], diagnosis, layout, proved=proved)
    if certificate.unresolved:
        return _result(p, evidence, "undecided", [], diagnosis, layout, proved=proved,
                       reason=_undecided_reason(p, certificate, shape, settings, evidence.limits))
    return _result(p, evidence, "numerical", [], diagnosis + ([certificate.proof_note] if certificate.proof_note else []),
                   layout, proved=proved)


def _certificate_and_proof(p: str, evidence: Evidence, claim_shape, layout: str) -> tuple[Certificate, int]:
    """The balls' certificate of the claim and how many entries the symbolic proof showed.

    Certification runs under ``Limits.evaluate_seconds``; past it, every
    entry is unresolved (the claim is undecided and the reason says so).
    """
    model, settings, limits = evidence.model, evidence.settings, evidence.limits
    claim_entries = entries(model.claims[p])
    try:
        with time_budget(limits.evaluate_seconds, f"certifying the claim for {p}", "evaluate_seconds"):
            certificate = certify_claim(evidence.balls, p, claim_shape, layout, settings.dps, limits)
    except LimitExceeded as exc:
        return Certificate(unresolved=set(range(len(claim_entries))), digits=settings.dps,
                           note=f"{str(exc).replace('evaluate_seconds', 'audit_seconds')}; a larger "
                                "Limits.audit_seconds would decide it"), 0
    proved = 0
    if layout != "same" or certificate.witnesses:  # a witness already decides: no proof needed
        return certificate, proved
    # the symbolic proof while the model fits its work budget; past it the certified numerical verdict
    if evidence.nodes > limits.max_proof_nodes:
        certificate.proof_note = (f"no symbolic proof tried: the model has {evidence.nodes} scalar nodes, "
                                  f"above Limits.max_proof_nodes = {limits.max_proof_nodes}")
    else:
        try:
            graph = evidence.graph
        except LimitExceeded as exc:
            certificate.proof_note = f"no symbolic proof: {exc}"
        else:
            proved = proved_entries(claim_entries, entries(graph.gradient[p]), model, graph, evidence.draw(0),
                                    limits)
    if proved < len(claim_entries):
        try:
            with time_budget(limits.evaluate_seconds, f"searching a witness for {p}", "evaluate_seconds"):
                search_witnesses(evidence.balls, p, claim_shape, layout, settings.dps, limits, certificate)
        except LimitExceeded:
            pass  # the values were certified; only the search at higher precision was cut short
    return certificate, proved


def _undecided_reason(p: str, certificate: Certificate, shape, settings: AuditSettings, limits: Limits) -> str:
    unresolved = [tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()
                  for flat in sorted(certificate.unresolved)]
    if certificate.note:
        return f"undecided: {certificate.note}"
    which = f" of {p} ({describe_entries(unresolved, shape)})" if shape else f" of {p}"
    return (f"undecided: the values{which} could not be certified to "
            f"{settings.dps} digits even at {precision_cap(settings.dps, limits)} digits, and no witness "
            "of a difference was found; more digits (Limits.max_dps) or a smaller [audit] range "
            "would decide it")


def _result(p: str, evidence: Evidence, status: str, wrong: list, diagnosis: list[str], layout: str | None,
            *, proved: int = 0, difference: str = "", witness_point: int | None = None,
            reason: str = "") -> ClaimResult:
    model, settings = evidence.model, evidence.settings
    shape = model.spec.shapes[p]
    claim_shape = shape_of(model.claims[p])
    converging, rel64, notes = _numeric_evidence(p, evidence, claim_shape, layout)
    if layout != "same":
        word = "bug"
    elif math.isfinite(rel64):
        word = grade(rel64, settings)
    else:  # no float64 number: a wrong claim's check fails, a right one's is not available
        word = "bug" if status == "different" else "-"
    counterexample = {} if witness_point is None else \
        {s.name: str(v) for s, v in zip(evidence.inputs, evidence.values.points[witness_point])}
    return ClaimResult(
        parameter=p, shape=shape, claim=model.spec.claims[p].formula, claim_shape=claim_shape,
        verdict=verdict_of(status), wrong_entries=wrong,
        wrong_description=describe_entries(wrong, shape) if wrong else
        ("all (shape)" if layout != "same" else ""),
        diagnosis=diagnosis, difference=difference, counterexample=counterexample,
        rel_difference=float(converging.rel_by_step[-1]), rel_difference_float64=rel64,
        grade=word, order=converging.order, fd_order=converging.fd_order, steps=list(settings.steps),
        rel_by_step=[float(r) for r in converging.rel_by_step], proved_entries=proved,
        entries=math.prod(shape) if shape else 1, entry_abs_difference=converging.entry_abs_difference,
        reason=reason, evidence_notes=notes,
        rel_difference_certified=_certified_relative(p, evidence, claim_shape, layout))


def _certified_relative(p: str, evidence: Evidence, claim_shape, layout: str | None) -> tuple[float, float]:
    """``‖claim − exact‖ / (‖claim‖ + ‖exact‖)`` at the first point as an enclosing interval, from balls."""
    if layout is None:
        return math.nan, math.nan
    bits = digits_to_bits(evidence.settings.dps) + 32
    try:
        exact = evidence.balls.group(0, bits, f"exact:{p}")
        claim = in_parameter_layout(evidence.balls.group(0, bits, f"claim:{p}"), claim_shape, layout)
    except (DerivauditError, ArithmeticError, ValueError):
        return math.nan, math.nan
    squares = sum(((c - e) * (c - e) for c, e in zip(claim, exact)), arb(0))
    den = sum((c * c for c in claim), arb(0)).sqrt() + sum((e * e for e in exact), arb(0)).sqrt()
    if not (squares.is_finite() and den.is_finite()) or den.contains(0):
        return math.nan, math.nan
    # a ball of squares touching 0 has no square root as a ball: bound it from its endpoints
    high = arb(squares.upper()).sqrt() / den
    low = arb(max(squares.lower(), arb(0))).sqrt() / den
    return max(float(low.lower()), 0.0), float(high.upper())


def _numeric_evidence(p: str, evidence: Evidence, claim_shape, layout: str | None):
    """Convergence of the centered differences, the float64 relative difference, and what is missing."""
    settings, values = evidence.settings, evidence.values
    if layout is None:  # a claim of another shape cannot be compared entry by entry
        nan = [math.nan] * len(settings.steps)
        return Convergence(nan, math.nan, math.nan, []), math.nan, []
    notes = [NEAR_SWITCH_NOTE] if 0 in values.near_switch else []
    claim0 = in_parameter_layout(values.at(0, f"claim:{p}"), claim_shape, layout)
    differences = evidence.differences[p]
    converging = convergence(claim0, values.at(0, f"exact:{p}"), differences, settings)
    # the float64 check: the claim rounded to float64 against the float64 centered difference
    with np.errstate(all="ignore"):
        claim64 = np.array([float(c) for c in claim0], dtype=float)
        direction = np.array([float(d) for d in differences.direction], dtype=float)
        claim_v = float(claim64 @ direction)
        numeric64 = differences.float64
        rel64 = relative_difference(np.array([claim_v]), np.array([numeric64]))
    if not (math.isfinite(numeric64) and np.all(np.isfinite(claim64)) and math.isfinite(rel64)):
        return converging, math.nan, notes + ["the float64 check gives no number at the first random point "
                                              "(float64 overflows or is undefined there): no float64 evidence"]
    return converging, max(rel64, 1.0) if layout == "transposed" else rel64, notes
