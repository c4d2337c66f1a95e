"""Audit a hand-derived derivative: verdict, proof or counterexample, diagnosis.

:func:`check` takes a formula ``f``, a variable (or several, for a gradient),
a derivative order and the user's *claimed* derivative, and returns a
:class:`CheckResult` with one :class:`ComponentResult` per claimed
derivative:

- the **verdict** (:class:`Verdict`): proved correct, numerically correct
  (certified equal to ``dps`` digits at every point of the witness search,
  not proved within the time budget), wrong (a certified witness), undecided
  (neither, and why), or not differentiable at the point asked;
- the exact derivative and the difference ``claim − exact``, simplified as
  far as the budget allowed (:func:`~derivaudit.checks.equivalence.compare_expressions`
  decides; see docs/check.md for the procedure);
- for a wrong claim an exact counterexample point with both values, and the
  **likely mistake** (:class:`Mistake`): sign flipped, constant factor,
  missing or extra term, wrong variable, chain rule without the inner
  derivative, wrong derivative order;
- the numeric **evidence**: a :func:`~derivaudit.study.study` table of
  centered and forward differences at the counterexample (or at ``at``),
  with the claim's value and each approximation's distance to it — the
  differences converge to the exact value, not to the claim;
- at a kink (``abs``, ``relu``, ``max``, ``min``) given as ``at``, the two
  one-sided derivatives instead of a meaningless convergence order.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import mpmath
import sympy as sp

from derivaudit.echo import escape_controls
from derivaudit.checks.claims import check_variables, claim_parts, claim_part, parse_part, split_claim
from derivaudit.checks.diagnosis import diagnose
from derivaudit.checks.equivalence import compare_expressions
from derivaudit.checks.witness import is_total
from derivaudit.lang.parse import typed_domain
from derivaudit.checks import evidence as at_point
from derivaudit.checks.evidence import EVIDENCE_EPS, NoEvidence, resolved_value, value_at
from derivaudit.checks.results import CheckResult, ComponentResult, Diagnosis, Mistake, OneSided
from derivaudit.core.symbolic import derivative
from derivaudit.errors import DerivauditError, DomainError
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.studies.inputs import check_dps, resolve_point
from derivaudit.verdicts import Verdict

__all__ = ["Verdict", "Mistake", "Diagnosis", "OneSided", "ComponentResult", "CheckResult",
           "check", "diagnose", "split_claim", "EVIDENCE_EPS", "audit_component"]


def _typed(text, limits: Limits) -> list[sp.Expr]:
    """The typed domain of a formula or claim text (none for a sympy expression)."""
    try:
        return [g for g in typed_domain(text, limits=limits) if not is_total(g)]
    except DerivauditError:
        return []


def audit_component(f: sp.Expr, var: sp.Symbol, order: int, claim: sp.Expr, claim_text: str,
               point: dict[sp.Symbol, sp.Expr] | None, dps: int, limits: Limits,
               points: int, seed: int, deadline: float | None, f_domain=()) -> ComponentResult:
    """Audit one claimed derivative: compare, examine the point, diagnose, gather evidence."""
    exact = derivative(f, var, order, limits)
    comparison = compare_expressions(claim, exact, domain=[f, *f_domain], limits=limits, dps=dps,
                                     points=points, seed=seed, deadline=deadline,
                                     claim_domain=_typed(claim_text, limits))
    verdict = {"proved": Verdict.PROVED, "numerical": Verdict.NUMERICAL,
               "undecided": Verdict.UNDECIDED, "different": Verdict.WRONG}[comparison.status]
    notes: list[str] = []
    one_sided = claim_at = exact_at = None
    if point is not None:
        one_sided = at_point.one_sided(f, var, order, point, dps, limits)
        if one_sided is None:
            exact_at = value_at(exact, point, dps, limits)
            if exact_at is None:
                one_sided = OneSided(None, None, "the exact derivative is undefined there "
                                                 "although the formula is defined")
        if one_sided is not None:
            verdict = Verdict.NOT_DIFFERENTIABLE
        claim_at = value_at(claim, point, dps, limits)
        if claim_at is None:
            notes.append("the claim is undefined or not real at the point")
        elif exact_at is not None and comparison.different:
            with mpmath.workdps(dps):
                if abs(claim_at - exact_at) <= max(abs(claim_at), abs(exact_at)) * \
                        mpmath.mpf(10) ** (-dps):
                    notes.append("at the given point the claim happens to equal the exact "
                                 "derivative; it differs elsewhere (see the counterexample)")
    diagnosis = () if not comparison.different else diagnose(f, var, order, claim, exact, comparison,
                                                              limits, seed, deadline)
    evidence = evidence_point = None
    if point is not None and one_sided is None:
        evidence_point = point
        try:
            evidence = at_point.evidence(f, var, order, point, claim_at, dps, limits, claim)
        except NoEvidence as exc:
            notes.append(str(exc))
    elif comparison.different:
        # no point given, or a kink there: the evidence is taken where the claim fails
        evidence_point, evidence, note = at_point.evidence_off_the_point(
            f, var, order, claim, exact, comparison, dps, limits, points, seed)
        if note:
            notes.append(note)
    return ComponentResult(
        variable=var.name, order=order, claim=claim, exact=exact, verdict=verdict,
        comparison=comparison, diagnosis=diagnosis, evidence=evidence,
        evidence_point=None if evidence_point is None else
        {s.name: v for s, v in evidence_point.items()},
        claim_at_point=claim_at, exact_at_point=exact_at, one_sided=one_sided,
        notes=tuple(notes), claim_text=escape_controls(claim_text) if claim_text else claim_text)


def check(formula, wrt=None, claim=None, *, order: int = 1, grad=None, hessian=None,
          at: Mapping[str, object] | None = None, dps: int = 50,
          limits: Limits = DEFAULT_LIMITS, points: int = 24, seed: int = 0) -> CheckResult:
    """Audit a claimed derivative (or gradient) of ``formula``.

    Parameters
    ----------
    formula : str or sympy.Expr
        The function ``f``.
    wrt : str, optional
        Variable of the derivative (optional when ``f`` has one variable).
    claim : str, sympy.Expr or a list of them
        The hand-derived derivative; for a gradient a list or a text with one
        component per variable, separated by commas (``"2*x*y, x**2"``).
    order : int
        Derivative order (with ``wrt``; a gradient is first order).
    grad : list of names or ``"x,y"``
        Audit a gradient instead: one claimed component per variable.
    hessian : list of names or ``"x,y"``
        Audit a Hessian instead: ``claim`` is ``"row; row"`` (rows by ``;``,
        entries by ``,``) or a list of rows; every entry ``(i, j)`` is judged
        against ``∂²f/∂xᵢ∂xⱼ`` (:mod:`derivaudit.checks.hessian`).
    at : mapping name → value, optional
        A point to examine: the evidence table is computed there, and a kink
        there gives the verdict "not differentiable at the point".  Values
        are exact (``"0.1"`` is 1/10).
    dps : int
        Digits to which claim and exact derivative must agree at each
        evidence point, and of every number reported.
    limits : :class:`~derivaudit.limits.Limits`; ``simplify_seconds`` bounds
        the symbolic proof of each component, ``check_seconds`` the whole check
        (components not decided by then are ``undecided``).
    points, seed : number of random evidence points and their seed.

    Returns a :class:`~derivaudit.checks.results.CheckResult`; its ``verdict``
    is the worst component's and ``exit_code`` the command line's (0, 1 wrong,
    4 undecided).  The decision procedure is in docs/check.md.

    >>> r = check("max(x, 100)", wrt="x", claim="0")
    >>> str(r.verdict), r.counterexample, int(r.exit_code)
    ('wrong', {'x': 200}, 1)
    >>> str(check("x**2", wrt="x", claim="2*x + 1e-60*x").verdict)
    'wrong'

    Raises :class:`~derivaudit.errors.ParseError` (formula or claim
    unreadable), :class:`~derivaudit.errors.DerivauditError` (unknown
    variables, wrong number of components) and
    :class:`~derivaudit.errors.DomainError` (``at`` outside the domain).
    """
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise DerivauditError(f"derivative order must be a whole number ≥ 1, not {order!r}")
    dps = check_dps(dps, limits)
    f = parse_part(formula, "formula", limits)
    if not f.free_symbols:
        raise DerivauditError("the formula has no variables to differentiate by")
    if hessian is not None:
        return _hessian_check(f, formula, wrt, grad, hessian, claim, order, at, dps, limits, points, seed)
    variables, is_gradient = check_variables(f, wrt, grad)
    if is_gradient and order != 1:
        raise DerivauditError("a gradient is a first derivative; use wrt with order for "
                              "higher derivatives")
    claims = claim_parts(claim, len(variables), limits)
    known = {s.name for s in f.free_symbols}
    for i, (c, _) in enumerate(claims):
        extra = sorted({s.name for s in c.free_symbols} - known)
        if extra:
            where = "the claim" if len(claims) == 1 else f"claim component {i + 1}"
            raise DerivauditError(f"{where} uses {', '.join(extra)}, which the formula does not "
                                  f"(its variables: {', '.join(sorted(known))})")
    # the formula's domain as typed: sqrt(x)**2 is x only for x >= 0
    f_domain = _typed(formula, limits) if isinstance(formula, str) else []
    point = _point(f, at, dps, limits, f_domain)
    # one budget for the whole check, however many components: past it, the rest are undecided
    deadline = time.monotonic() + limits.check_seconds if limits.check_seconds else None
    components = tuple(audit_component(f, var, order, c, text, point, dps, limits, points, seed, deadline,
                                       f_domain)
                       for var, (c, text) in zip(variables, claims))
    return CheckResult(formula=f, components=components,
                       at=None if point is None else {s.name: v for s, v in point.items()},
                       dps=dps, gradient=is_gradient,
                       formula_text=escape_controls(formula.strip()) if isinstance(formula, str) else "")



def _point(f: sp.Expr, at, dps: int, limits: Limits, f_domain=()):
    """The exact point ``at`` (None when not given), inside the formula's domain as typed."""
    if not at:
        return None
    point = resolve_point(f, at)
    try:
        for piece in (f, *f_domain):
            resolved_value(piece, {v: point[v] for v in piece.free_symbols}, dps, limits)
    except DomainError as exc:
        raise DomainError(f"the point given is outside the formula's domain: {exc}") from None
    return point


def _hessian_check(f, formula, wrt, grad, hessian, claim, order, at, dps, limits, points, seed) -> CheckResult:
    from derivaudit.checks.hessian import check_hessian_claim, hessian_rows
    if wrt is not None or grad is not None or order != 1:
        raise DerivauditError("give hessian alone (not with wrt, grad or order): it names the variables of "
                              "the Hessian, whose entries are second derivatives")
    variables, _ = check_variables(f, None, hessian)
    rows = hessian_rows(claim, len(variables))
    return check_hessian_claim(f, variables, rows, point=_point(f, at, dps, limits), dps=dps, limits=limits,
                               points=points, seed=seed,
                               formula_text=escape_controls(formula.strip()) if isinstance(formula, str) else "",
                               audit=audit_component, parse=lambda value, what: claim_part(value, what, limits))
