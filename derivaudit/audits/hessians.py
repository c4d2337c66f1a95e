"""Claimed Hessians of a spec's loss: the ``[hessians]`` section, judged beside the gradient claims.

``[hessians] w = "X.T @ (X * (p * (1 - p))[:, None]) / N + lam * np.eye(d)"``
claims ``∂²loss/∂w∂wᵀ``: for a parameter of ``n`` entries an ``(n, n)``
matrix (a matrix parameter's entries flattened in C order; ``shape + shape``
is accepted too).  Each entry ``(i, j)`` is judged like a claimed derivative:

1. **exact**: forward over reverse (:func:`exact_hessian`): the exact
   gradient of the audit's reverse mode differentiated along each parameter
   entry by forward-mode tangents of the layers, entries in the layer
   symbols like the gradient's;
2. **verdict**, with the gradient claims' own evidence engine: the claim and
   the exact Hessian on balls at the audit's random points
   (:func:`~derivaudit.audits.witness.certify_claim`), *wrong* with a
   certified witness (a ball of ``claim − exact`` excluding 0; the wrong
   ``(i, j)`` named), else *proved* (:func:`~derivaudit.audits.proof.proved_entries`),
   *numerical* (certified to ``dps`` digits, equal at every point and in the
   witness search) or *undecided*;
3. **evidence**: the relative difference ``‖H − Ĥ‖/(‖H‖ + ‖Ĥ‖)`` at the
   first point (the difference taken in balls), and what the pattern of wrong
   entries says (a claim that is not symmetric, a ``c·I`` term).

Everything goes through the audit's public pieces (``build``,
``model_graph``), so it can move onto another evidence engine unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from derivaudit.audits.context import Evidence
from derivaudit.audits.graph import ModelGraph, expand_adjoints
from derivaudit.audits.points import Outputs
from derivaudit.audits.proof import proved_entries
from derivaudit.audits.results import describe_entries, verdict_of
from derivaudit.audits.definitions import Malformed
from derivaudit.audits.spec import Model
from derivaudit.audits.witness import LayeredBallValues, certify_claim, search_witnesses
from derivaudit.core.balls import digits_to_bits
from derivaudit.core.guards import time_budget
from derivaudit.errors import DerivauditError
from derivaudit.lang.arrays import entries, shape_of
from derivaudit.verdicts import Verdict, relative_difference

__all__ = ["HessianClaimResult", "judge_hessians", "exact_hessian"]


@dataclass
class HessianClaimResult:
    """The verdict on one claimed Hessian ``∂²loss/∂P∂Pᵀ`` (verdicts as for a gradient claim).

    ``wrong_entries`` are ``(i, j)`` pairs of flat parameter indices (C
    order); ``counterexample`` is the witness point of the first wrong entry;
    ``diagnosis`` says what the pattern of wrong entries suggests.  An
    *invalid* claim (it cannot be read or evaluated) has its one line in
    ``message`` and no evidence.
    """

    parameter: str
    shape: tuple[int, int]
    claim: str
    claim_shape: tuple[int, ...]
    verdict: Verdict
    wrong_entries: list[tuple[int, int]]
    wrong_description: str
    diagnosis: list[str]
    counterexample: dict[str, str]
    rel_difference: float
    proved_entries: int
    entries: int
    notes: list[str] = field(default_factory=list)
    #: why an invalid claim cannot be judged ("" for a judged one)
    message: str = ""

    @property
    def correct(self) -> bool:
        return self.verdict.correct

    @property
    def label(self) -> str:
        return f"H({self.parameter})"


def exact_hessian(model: Model, graph: ModelGraph, p: str) -> np.ndarray:
    """``∂²loss/∂Pᵢ∂Pⱼ`` as an ``(n, n)`` array of expressions in the forward layer symbols (forward over reverse).

    The exact gradient of the audit's reverse mode, its adjoints written out
    (:func:`~derivaudit.audits.graph.expand_adjoints`), is differentiated
    along each parameter entry ``Pⱼ`` in forward mode: the tangent of each
    forward layer ``s = e(u, …)`` is ``Σᵤ ∂e/∂u · u̇``, so
    ``Hᵢⱼ = Σᵤ ∂gᵢ/∂u · u̇`` over the symbols ``u`` of ``gᵢ``.
    """
    params = list(entries(model.param_symbols[p]))
    gradient = [expand_adjoints(g, graph) for g in entries(graph.gradient[p])]
    columns = []
    for theta in params:
        tangent = {theta: sp.Integer(1)}
        for symbol, definition in graph.forward:
            dot = sp.Add(*[sp.diff(definition, u) * tangent[u] for u in definition.free_symbols if u in tangent])
            if dot != 0:
                tangent[symbol] = dot
        columns.append([sp.Add(*[sp.diff(g, u) * tangent[u] for u in g.free_symbols if u in tangent])
                        for g in gradient])
    return np.array(columns, dtype=object).T


def _claimed(model: Model, p: str, n: int):
    value = model.hessians[p]
    shape = shape_of(value)
    flat = list(entries(value))
    if len(flat) != n * n or (shape not in ((n, n), tuple(model.spec.shapes[p]) * 2) and n > 1):
        return None, shape
    return flat, shape


def _relative_difference(balls: LayeredBallValues, key: str, dps: int) -> float:
    """``‖claim − exact‖/(‖claim‖ + ‖exact‖)`` at the first evidence point, the difference taken in balls."""
    try:
        bits = digits_to_bits(dps) + 32
        exact, claim = balls.group(0, bits, f"exact:{key}"), balls.group(0, bits, f"claim:{key}")
    except (DerivauditError, ArithmeticError, ValueError):
        return math.nan
    mid = [float(b.mid()) for b in claim], [float(b.mid()) for b in exact]
    return relative_difference(mid[0], mid[1], difference=[float((c - e).mid()) for c, e in zip(claim, exact)])


def _pattern(wrong: list, n: int, certificate, exact_at, claim_at) -> list[str]:
    """What the wrong entries suggest: a claim that is not symmetric, a ``c·I`` term."""
    notes = []
    lopsided = sorted(e for e in wrong if (e[1], e[0]) not in wrong)
    if lopsided:
        notes.append(f"the claimed Hessian is not symmetric (entries {', '.join(map(str, lopsided))} differ from "
                     "their mirror images, which agree with the exact Hessian), but the true Hessian is symmetric")
    if n > 1 and set(wrong) == {(i, i) for i in range(n)} and exact_at is not None:
        gaps = [claim_at[i * n + i] - exact_at[i * n + i] for i in range(n)]
        if all(abs(float((g - gaps[0]).mid())) <= 1e-20 * (1 + abs(float(gaps[0].mid()))) for g in gaps):
            notes.append(f"claim − exact ≈ {float(gaps[0].mid()):.6g}·I at the witness: only the diagonal is off, "
                         "by one amount — a c·I term (a regulariser's identity, lam * np.eye(d)) is missing or wrong")
    return notes


def _judge_one(p: str, evidence: Evidence, deadline_note: list) -> HessianClaimResult:
    model, graph, settings, limits = evidence.model, evidence.graph, evidence.settings, evidence.limits
    shape = tuple(model.spec.shapes[p])
    n = math.prod(shape) if shape else 1
    claim, claim_shape = _claimed(model, p, n)
    text = model.spec.hessians[p].formula
    if claim is None:
        return HessianClaimResult(p, (n, n), text, claim_shape, Verdict.WRONG, [], "all (shape)",
                                  [f"the claim has shape {claim_shape}, but the Hessian of {p} (shape {shape}) is "
                                   f"({n}, {n}): entries flattened in C order"], {}, math.nan, 0, n * n)
    exact = list(exact_hessian(model, graph, p).flat)
    key = f"hessian {p}"
    outputs = Outputs()
    outputs.add(f"exact:{key}", exact)
    outputs.add(f"claim:{key}", claim)
    balls = LayeredBallValues(evidence.inputs, graph.chain, outputs, evidence.values.points)
    with time_budget(limits.evaluate_seconds, f"certifying the Hessian claim for {p}", "evaluate_seconds"):
        certificate = certify_claim(balls, key, (n * n,), "same", settings.dps, limits)
    proved = 0
    if not certificate.witnesses:
        proved = proved_entries(claim, exact, model, graph, evidence.draw(0), limits)
        if proved < n * n:
            with time_budget(limits.evaluate_seconds, f"searching a witness for the Hessian of {p}",
                             "evaluate_seconds"):
                search_witnesses(balls, key, (n * n,), "same", settings.dps, limits, certificate)
    wrong = [(flat // n, flat % n) for flat in sorted(certificate.witnesses)]
    witness, exact_at, claim_at = {}, None, None
    if wrong:
        k = certificate.witnesses[wrong[0][0] * n + wrong[0][1]]
        witness = {s.name: str(v) for s, v in zip(evidence.inputs, evidence.values.points[k])}
        bits = digits_to_bits(settings.dps) + 32
        exact_at, claim_at = balls.group(k, bits, f"exact:{key}"), balls.group(k, bits, f"claim:{key}")
        status = "different"
    elif proved == n * n:
        status = "proved"
    else:
        status = "undecided" if certificate.unresolved else "numerical"
    notes = [certificate.note] if certificate.note else []
    return HessianClaimResult(p, (n, n), text, claim_shape, verdict_of(status), wrong,
                              describe_entries(wrong, (n, n)) if wrong else "",
                              _pattern(wrong, n, certificate, exact_at, claim_at), witness,
                              _relative_difference(balls, key, settings.dps), proved, n * n, notes)


def judge_hessians(evidence: Evidence) -> list[HessianClaimResult]:
    """One :class:`HessianClaimResult` per ``[hessians]`` entry of the spec, in its order (malformed: invalid)."""
    spec = evidence.model.spec
    judged = {p: _judge_one(p, evidence, []) for p in spec.hessians}
    malformed = spec.malformed_in("hessians")
    return [judged[p] if p in judged else _invalid(malformed[p], tuple(spec.shapes[p]))
            for p in spec.claimed("hessians")]


def _invalid(malformed: Malformed, shape: tuple[int, ...]) -> HessianClaimResult:
    n = math.prod(shape) if shape else 1
    return HessianClaimResult(malformed.name, (n, n), malformed.formula, (), Verdict.INVALID, [], "", [], {},
                              math.nan, 0, n * n, message=malformed.message)
