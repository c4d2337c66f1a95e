"""Audit a hand-derived Hessian of a formula: one claimed second partial per entry, each judged like a derivative.

``check(F, hessian="x,y", claim="row; row")`` (``derivaudit check F --hessian
x,y --claim "…"``) reads ``n`` rows of ``n`` entries (rows separated by
``;``, entries by top-level commas) and audits every entry ``(i, j)`` of the
claim against ``∂²f/∂xᵢ∂xⱼ`` with the machinery of a single derivative
(:func:`~derivaudit.checks.check.audit_component`): proof by sympy, else a
certified witness, the likely mistake, the evidence table.

- a diagonal entry is the derivative of order 2 of ``f`` in ``xᵢ`` (its
  evidence: second differences of ``f``);
- an off-diagonal entry is the first derivative in ``xⱼ`` of the exact
  ``∂f/∂xᵢ`` (its evidence: differences of that partial in ``xⱼ``);
- a missing term that is one half of a product rule applied to a term of
  ``∂f/∂xᵢ`` is named as such (``d/dy`` of the factor ``y`` in ``y·exp(x*y)``);
- when exactly one entry of a symmetric pair is wrong, the claim is not
  symmetric while the true Hessian is, and the result says so plainly.

Both entries of a wrong mixed partial are named (``(0, 1)`` and ``(1, 0)``):
each is a claim of its own.

>>> from derivaudit.checks.check import check
>>> r = check("x**2*y", hessian="x,y", claim="2*y, 2*x; 2*x, 0")
>>> str(r.verdict), r.wrong_entries
('correct (proved)', ())
"""

from __future__ import annotations

import dataclasses
import time

import sympy as sp

from derivaudit.checks.claims import split_claim
from derivaudit.checks.equivalence import compare_expressions
from derivaudit.checks.results import CheckResult, ComponentResult, Diagnosis, Mistake
from derivaudit.core.symbolic import derivative
from derivaudit.errors import DerivauditError
from derivaudit.lang.parse import format_formula
from derivaudit.limits import Limits
from derivaudit.verdicts import Verdict

__all__ = ["hessian_rows", "check_hessian_claim", "product_rule_term", "symmetry_notes"]


def hessian_rows(claim, count: int) -> list[list]:
    """The claimed Hessian as ``count`` rows of ``count`` entries (text or expressions).

    ``claim`` is a text ``"a, b; c, d"`` or a list of rows (each a text
    ``"a, b"`` or a list of entries).
    """
    if claim is None:
        raise DerivauditError('no claim given; pass the hand-derived Hessian as claim="row; row" '
                              '(--claim "a, b; c, d": rows by ";", entries by ",")')
    if isinstance(claim, str):
        rows = [r for r in _split_rows(claim)]
    elif isinstance(claim, (list, tuple)):
        rows = list(claim)
    else:
        raise DerivauditError("a Hessian claim is a text 'a, b; c, d' or a list of rows")
    rows = [split_claim(r) if isinstance(r, str) else list(r) for r in rows]
    if len(rows) != count:
        raise DerivauditError(f"the claimed Hessian has {len(rows)} row{'s' if len(rows) != 1 else ''} but "
                              f"{count} variables were named; give {count} rows separated by ';'")
    for k, row in enumerate(rows):
        if len(row) != count:
            raise DerivauditError(f"row {k + 1} of the claimed Hessian has {len(row)} entr"
                                  f"{'ies' if len(row) != 1 else 'y'} but {count} variables were named; "
                                  f"give {count} entries per row, separated by commas")
    return rows


def _split_rows(text: str) -> list[str]:
    """Split at top-level ``;`` (none appear inside a formula, but keep brackets whole)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch in "([{") - (ch in ")]}")
        if ch == ";" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def product_rule_term(first: sp.Expr, var: sp.Symbol, difference: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """``(term, factor)``: a product ``term`` of ``first`` (= ∂f/∂xᵢ) whose product-rule half through
    ``factor`` is missing from the claim.

    ``claim − exact = −(∂u/∂var)·(rest)`` for a term ``u·rest`` of ``first``
    with at least two factors depending on ``var``: the claim differentiated
    only the other factors.
    """
    for term in sp.Add.make_args(sp.expand(first, deep=False)):
        factors = [a for a in sp.Mul.make_args(term) if a.has(var)]
        if len(factors) < 2:
            continue
        for factor in factors:
            half = term / factor * sp.diff(factor, var)
            if half != 0 and sp.expand(difference + half) == 0:
                return term, factor
    return None


def _entry(f, first, variables, i, j, claim, text, audit, ctx) -> ComponentResult:
    """Audit entry ``(i, j)``: the order-2 derivative on the diagonal, ``∂/∂xⱼ`` of ``∂f/∂xᵢ`` off it."""
    xi, xj = variables[i], variables[j]
    if i == j:
        component = audit(f, xi, 2, claim, text, *ctx)
    else:
        # ∂/∂xⱼ of ∂f/∂xᵢ, or of the mirror ∂f/∂xⱼ in xᵢ (equal for a C² f) when only that one varies
        of, by = (first[i], xj) if xj in first[i].free_symbols or xi not in first[j].free_symbols else (first[j], xi)
        if by not in of.free_symbols:
            component = _zero_entry(f, by, claim, text, ctx)
        else:
            point = ctx[0] if ctx[0] is None else {s: v for s, v in ctx[0].items() if s in of.free_symbols}
            component = audit(of, by, 1, claim, text, point, *ctx[1:])
    label = f"H[{i},{j}] = d^2f/d{xi.name}^2" if i == j else f"H[{i},{j}] = d^2f/d{xi.name}d{xj.name}"
    diagnosis = component.diagnosis
    if component.comparison.different:
        found = product_rule_term(first[i], xj, component.difference)
        if found is not None:
            term, factor = found
            half = format_formula(term / factor * sp.diff(factor, xj))
            diagnosis = (Diagnosis(Mistake.MISSING_TERM, f"a product-rule term missing: d/d{xj.name} of "
                                   f"{format_formula(term)} has the term {half} (from the factor "
                                   f"{format_formula(factor)}), which the claim lacks", -component.difference),) \
                + tuple(d for d in diagnosis if d.mistake is not Mistake.MISSING_TERM)
    return dataclasses.replace(component, variable=f"{xi.name},{xj.name}", order=2, diagnosis=diagnosis,
                               label_text=label, entry=(i, j))


def _zero_entry(f: sp.Expr, by: sp.Symbol, claim: sp.Expr, text: str, ctx) -> ComponentResult:
    """An entry whose exact value is 0 (neither first partial depends on the other variable): compared, no
    evidence table (there is no function of the variable to difference)."""
    _, dps, limits, points, seed, deadline = ctx
    comparison = compare_expressions(claim, sp.Integer(0), domain=[f], limits=limits, dps=dps, points=points,
                                     seed=seed, deadline=deadline)
    verdict = {"proved": Verdict.PROVED, "numerical": Verdict.NUMERICAL, "undecided": Verdict.UNDECIDED,
               "different": Verdict.WRONG}[comparison.status]
    return ComponentResult(variable=by.name, order=1, claim=claim, exact=sp.Integer(0), verdict=verdict,
                           comparison=comparison, claim_text=text)


def symmetry_notes(components, n: int) -> tuple[str, ...]:
    """Plain words for a claim that is not symmetric where the true Hessian is."""
    by_entry = {c.entry: c for c in components}
    notes = []
    for i in range(n):
        for j in range(i + 1, n):
            a, b = by_entry[(i, j)], by_entry[(j, i)]
            if (a.verdict is Verdict.WRONG) != (b.verdict is Verdict.WRONG) and \
                    Verdict.UNDECIDED not in (a.verdict, b.verdict):
                bad, good = (a, b) if a.verdict is Verdict.WRONG else (b, a)
                notes.append(f"the claimed Hessian is not symmetric: entry {bad.entry} differs from {good.entry}, "
                             "but the true Hessian is (the mixed partials of a twice continuously differentiable "
                             f"f are equal); {bad.entry} is the wrong one")
    return tuple(notes)


def check_hessian_claim(f: sp.Expr, variables: list[sp.Symbol], rows: list[list], *, point, dps: int,
                        limits: Limits, points: int, seed: int, formula_text: str, audit, parse) -> CheckResult:
    """The audit of every entry of a claimed Hessian (see the module docstring).

    ``audit`` is :func:`~derivaudit.checks.check.audit_component`, ``parse``
    reads one claimed entry ``(value, what) → (expression, text)``.
    """
    n = len(variables)
    claims = [[parse(rows[i][j], f"Hessian entry ({i}, {j})") for j in range(n)] for i in range(n)]
    known = {s.name for s in f.free_symbols}
    for i in range(n):
        for j in range(n):
            extra = sorted({s.name for s in claims[i][j][0].free_symbols} - known)
            if extra:
                raise DerivauditError(f"Hessian entry ({i}, {j}) uses {', '.join(extra)}, which the formula does "
                                      f"not (its variables: {', '.join(sorted(known))})")
    deadline = time.monotonic() + limits.check_seconds if limits.check_seconds else None
    first = [derivative(f, v, 1, limits) for v in variables]
    ctx = (point, dps, limits, points, seed, deadline)
    components = tuple(_entry(f, first, variables, i, j, claims[i][j][0], claims[i][j][1], audit, ctx)
                       for i in range(n) for j in range(n))
    return CheckResult(formula=f, components=components, at=None if point is None else
                       {s.name: v for s, v in point.items()}, dps=dps, gradient=False,
                       formula_text=formula_text, hessian=tuple(v.name for v in variables),
                       notes=symmetry_notes(components, n))
