"""Backprop audits: one verdict per claimed gradient of a spec's loss.

For each claimed parameter ``P`` the audit compares the claim with the exact
gradient ``∂loss/∂P``, entry by entry, and gathers numeric evidence a
gradient check would give.  Each job has its module:

1. **Exact gradient** (:mod:`~derivaudit.audits.graph`): reverse mode over
   the model instantiated layer by layer.
2. **Evaluation** (:mod:`~derivaudit.audits.points`): claims, gradients and
   backward intermediates at random exact points, entry by entry.
3. **Backward intermediates** (:mod:`~derivaudit.audits.backward`): ``dZ1``
   against ``∂loss/∂Z1``, locating the first wrong step.
4. **Numeric evidence** (:mod:`~derivaudit.audits.evidence`): centered
   differences of the loss in mpmath and float64, relative differences,
   observed orders, gradient-check bands.
5. **Verdict and proof** (:mod:`~derivaudit.audits.judge`,
   :mod:`~derivaudit.audits.proof`), and the **diagnosis** of wrong claims
   (:mod:`~derivaudit.audits.diagnose`).
6. **Claimed Hessians** of ``[hessians]`` (:mod:`~derivaudit.audits.hessians`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

from derivaudit.budgets import time_budget
from derivaudit.core.guards import evaluation_limits
from derivaudit.errors import DerivauditError, LimitExceeded
from derivaudit.lang.arrays import entries
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.progress import Progress, ProgressArg
from derivaudit.audits.backward import (add_backward_outputs, backward_pairs, blame_factors, check_backward,
                                       malformed_checks)
from derivaudit.core.reverse import ReverseGraph, graph_nodes
from derivaudit.audits.evidence import finite_differences
from derivaudit.audits.graph import ModelGraph, exact_gradient, forward_chain
from derivaudit.audits.hessians import judge_hessians
from derivaudit.audits.context import Evidence
from derivaudit.audits.judge import judge_claim
from derivaudit.audits.points import Outputs, defined_points
from derivaudit.audits.results import AuditResult, BackwardCheck, ClaimResult, invalid_claim
from derivaudit.audits.spec import AuditSettings, AuditSpec, claim_layout, draw_data, instantiate, load_spec
from derivaudit.audits.switching import SwitchingGuard
from derivaudit.audits.witness import BallValues

__all__ = ["ClaimResult", "BackwardCheck", "AuditResult", "audit", "exact_gradient", "audit_settings"]


def audit(spec: str | Path | Mapping | AuditSpec, *, dps: int | None = None, seed: int | None = None,
          points: int | None = None, limits: Limits = DEFAULT_LIMITS,
          progress: ProgressArg = None) -> AuditResult:
    """Audit every claimed gradient ``∂loss/∂P`` of ``spec`` against the exact one.

    Parameters
    ----------
    spec : str, Path, dict or AuditSpec
        A TOML path, a dict of its sections, or a spec from :func:`load_spec`.
    dps, seed, points : int, optional
        Override the spec's ``[audit]`` settings (digits of the comparisons,
        seed of the random points and drawn data, number of points).
    limits : Limits
        Size, precision and time limits.  The work is bounded in work units
        (``max_graph_nodes`` scalar nodes of the model, ``max_proof_nodes``
        for a symbolic proof); each stage (loading, evaluating, certifying,
        proving) runs under the wall-clock guard ``audit_seconds``, generous
        by default (strict for untrusted input, see docs/security.md), and
        each diagnosis under ``diagnosis_seconds``.
    progress : callable or bool, optional
        Called as ``progress(done, total)`` after each evidence point and each claim.

    Returns
    -------
    AuditResult
        One :class:`ClaimResult` per claim, each judged on its own (a wrong,
        undecided or malformed claim never hides another's verdict): *wrong*
        with a certified witness (a ball of ``claim − exact`` excluding 0),
        *correct (proved)*, *correct (numerically)* with values certified to
        ``dps`` digits, *undecided* with the reason, or *invalid* with the
        message when the claim (or a backward intermediate it uses) cannot be
        read or evaluated.  The centered differences of the evidence have
        error O(h²).

    Raises
    ------
    SpecError
        For a bad model: ``[shapes]``, ``[params]``, ``[data]``, ``[forward]``,
        ``[audit]`` (one line naming the section and key).

    Examples
    --------
    >>> spec = {"shapes": {"W": [1, 2]}, "params": {"names": ["W"]},
    ...         "forward": {"loss": "sum(W**3)"}, "claims": {"W": "3*W**2"}, "audit": {"points": 1}}
    >>> result = audit(spec)
    >>> str(result["W"].verdict), int(result.exit_code)
    ('correct (proved)', 0)
    >>> str(audit({**spec, "claims": {"W": "2*W**2"}})["W"].verdict)
    'wrong'
    >>> invalid = audit({**spec, "claims": {"W": "3*V**2"}})
    >>> str(invalid["W"].verdict), int(invalid.exit_code), invalid["W"].message
    ('invalid', 2, "<spec>: [claims] W: uses 'V', which is neither declared nor defined")
    """
    # one wall-clock guard for every stage: the work itself is bounded in work units
    staged = dataclasses.replace(limits, symbolic_seconds=limits.audit_seconds,
                                 evaluate_seconds=limits.audit_seconds)
    try:
        return _audit(spec, dps, seed, points, staged, progress)
    except LimitExceeded as exc:  # a stage's guard is audit_seconds: say so
        text = str(exc)
        for name in ("symbolic_seconds", "evaluate_seconds"):
            text = text.replace(f"Limits.{name}", "Limits.audit_seconds")
        if text == str(exc):
            raise
        raise LimitExceeded(text) from None


def _audit(spec, dps, seed, points, limits: Limits, progress: ProgressArg) -> AuditResult:
    """:func:`audit` with every stage's guard in ``limits``."""
    seconds: dict[str, float] = {}
    timed = _stopwatch(seconds)
    start = time.perf_counter()
    with timed("build"):
        if not isinstance(spec, AuditSpec):
            spec = load_spec(spec, limits=limits)
        settings = audit_settings(spec.settings, limits, dps=dps, seed=seed, points=points)
        # a spec comes from someone derivaudit does not trust: every stage runs under a budget
        if "symbolic draws" not in spec.models:
            with time_budget(limits.symbolic_seconds, "instantiating the spec", "symbolic_seconds"):
                spec = instantiate(spec, limits=limits)
        model = spec.models["symbolic draws"]
    with timed("gradient"):
        # no symbolic differentiation here: the exact gradient comes from the reverse pass on balls
        chain = forward_chain(model)
        inputs = model.symbols()
        engine = ReverseGraph(chain, inputs, model.values["loss"])
        outputs = Outputs()
        for p in spec.claims:
            outputs.add(f"exact:{p}", entries(model.param_symbols[p]))
            outputs.add(f"claim:{p}", entries(model.claims[p]))
        pairs = backward_pairs(model)
        add_backward_outputs(outputs, model, pairs)
        adjoints = [key for key in outputs.slots if key.startswith(("exact:", "bexact:"))]
        nodes = check_graph_size(chain, outputs, limits)
        bar = Progress(progress, settings.points + len(spec.claims), "audit")
        balls = BallValues(engine, outputs, adjoint_keys=adjoints,
                           on_point=lambda: bar() if bar.done < settings.points else None)
        guard = SwitchingGuard(model, ModelGraph(chain, chain, {}, {}), inputs, settings)
    with timed("evaluate"), evaluation_limits(limits, "evaluating the claims and the exact gradient"):
        # drawn data (one-hot labels, random data) take new values at every evidence point
        draws = draw_data(spec, settings.points, seed=settings.seed)
        values = defined_points(balls, inputs, outputs, settings,
                                [key for key in outputs.slots if "exact:" in key], draws,
                                guard.straddled if guard.active else None,
                                guard.band_point if guard.active else None)
        balls.points = values.points
    backward = check_backward(model, pairs, values)
    with timed("finite differences"):
        differences = finite_differences(model, engine, values.points[0], settings, limits)
    evidence = Evidence(model, inputs, values, balls, draws, differences, settings, limits, nodes)
    with timed("verdicts"):
        judged = {}
        while bar.done < settings.points:  # points taken from a cache still count
            bar()
        for p in spec.claims:
            judged[p] = judge_claim(p, evidence)
            bar()
        bar.close()
    layouts = {p: claim_layout(c.claim_shape, c.shape) for p, c in judged.items()}
    backward = blame_factors(backward, model, values,
                             {p: lay for p, lay in layouts.items() if lay in ("same", "transposed")})
    with timed("hessians"), time_budget(limits.symbolic_seconds, "judging the claimed Hessians", "symbolic_seconds"):
        hessians = judge_hessians(evidence)
    seconds["total"] = time.perf_counter() - start
    malformed = spec.malformed_in("claims")
    claims = [judged[p] if p in judged else invalid_claim(malformed[p], spec.shapes[p]) for p in spec.claimed()]
    # errors: the malformed formulas themselves, not the claims invalid only through an intermediate
    return AuditResult(spec.source, claims, backward + malformed_checks(model), settings, seconds, hessians,
                       [m.message for m in spec.malformed if not m.cause])


def check_graph_size(chain, outputs: Outputs, limits: Limits) -> int:
    """Distinct scalar nodes of the model and its outputs; above ``Limits.max_graph_nodes`` a refusal."""
    nodes = graph_nodes([e for _, e in chain] + outputs.exprs)
    if nodes > limits.max_graph_nodes:
        raise LimitExceeded(f"the model has {nodes} scalar nodes (forward pass and claims), above the "
                            f"limit of {limits.max_graph_nodes} (Limits.max_graph_nodes); smaller [shapes] "
                            "audit the same formulas")
    return nodes


def audit_settings(settings: AuditSettings, limits: Limits, **overrides) -> AuditSettings:
    """The spec's ``[audit]`` settings with the caller's ``dps``, ``seed`` and ``points`` (None: keep)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    for key, value in overrides.items():
        least = {"dps": 15, "seed": 0, "points": 1}[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise DerivauditError(f"{key} must be a whole number{f' ≥ {least}' if least else ''}, "
                                  f"not {value!r}")
    if overrides.get("dps", 0) > limits.max_dps:
        raise DerivauditError(f"precision {overrides['dps']} digits is above the limit of {limits.max_dps}")
    return AuditSettings(**{**settings.__dict__, **overrides})


def _stopwatch(seconds: dict[str, float]):
    """A context manager factory recording each stage's wall time in ``seconds[name]``."""
    @contextmanager
    def timed(name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds[name] = time.perf_counter() - start
    return timed
