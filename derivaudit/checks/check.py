"""Audit a hand-derived derivative: verdict, proof or counterexample, diagnosis.

:func:`check` takes a formula ``f``, a variable (or several, for a gradient),
a derivative order and the user's *claimed* derivative, and returns a
:class:`CheckResult` with one :class:`ComponentResult` per claimed
derivative:

- the **verdict** (:class:`Verdict`): proved correct, numerically correct
  (equal to ``dps`` digits at many random points of the domain, not proved
  within the time budget), wrong, or not differentiable at the point asked;
- the exact derivative and the difference ``claim − exact``, simplified as
  far as the budget allowed (:func:`~derivaudit.equivalence.compare_expressions`
  decides);
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

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import pandas as pd
import sympy as sp

from derivaudit.checks.equivalence import Comparison, compare_expressions, kink_arguments, off_switches, safe_expand
from derivaudit.checks.equivalence import _value as _plain_value
from derivaudit.verdicts import Verdict
from derivaudit.display import html_of
from derivaudit.errors import DerivauditError, DomainError, LimitExceeded, ParseError
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.core.numeric import GUARD_DIGITS, Samples, compile_formula, difference_quotient, exact_value, to_mpf
from derivaudit.lang.parse import format_formula, parse_formula
from derivaudit.reports.text import table_as_text
from derivaudit.core.stencils import backward, forward
from derivaudit.studies.inputs import check_dps, resolve_point
from derivaudit.core.numeric import resolved_difference
from derivaudit.studies.sweep import study
from derivaudit.core.symbolic import as_symbol, default_variable, derivative, require_variables

__all__ = ["Verdict", "Mistake", "Diagnosis", "OneSided", "ComponentResult", "CheckResult",
           "check", "diagnose", "split_claim", "format_result", "format_component", "EVIDENCE_EPS"]

#: steps of the evidence table; smaller ranges are tried near a domain edge
EVIDENCE_EPS = ("1e-1:1e-6:6", "1e-3:1e-8:6", "1e-6:1e-11:6")
#: steps of the one-sided differences that decide differentiability at a point
_ONE_SIDED_EPS = tuple(sp.Rational(1, 10 ** k) for k in (4, 6, 8, 10))


class _Text(str, enum.Enum):
    """An enum whose members print as their text."""

    def __str__(self) -> str:
        return self.value


class Mistake(_Text):
    """Classes of mistakes :func:`check` recognises in a wrong claim."""

    SIGN = "sign flipped"
    FACTOR = "off by a constant factor"
    MISSING_TERM = "missing term"
    EXTRA_TERM = "extra term"
    WRONG_VARIABLE = "derivative with respect to the wrong variable"
    CHAIN_RULE = "chain rule without the inner derivative"
    WRONG_ORDER = "wrong derivative order"


@dataclass(frozen=True)
class Diagnosis:
    """A likely mistake: its class, what exactly went wrong, and the quantity it
    names (the factor, the term, the variable, the inner derivative or the order)."""

    mistake: Mistake
    message: str
    detail: sp.Expr | str | int | None = None

    def __str__(self) -> str:
        return f"{self.mistake} — {self.message}"


@dataclass(frozen=True)
class OneSided:
    """One-sided derivatives at a point: the limits of the backward (left) and
    forward (right) differences, each None where it diverges or is undefined."""

    left: mpmath.mpf | None
    right: mpmath.mpf | None
    reason: str


@dataclass(frozen=True)
class ComponentResult:
    """The audit of one claimed derivative ``∂ⁿf/∂vⁿ``."""

    variable: str
    order: int
    claim: sp.Expr
    exact: sp.Expr
    verdict: Verdict
    comparison: Comparison
    #: likely mistakes, most specific first (empty when correct or unexplained)
    diagnosis: tuple[Diagnosis, ...] = ()
    #: study table at ``evidence_point`` (None when correct and no ``at`` was given)
    evidence: pd.DataFrame | None = dataclasses.field(default=None, repr=False)
    evidence_point: dict[str, sp.Expr] | None = None
    #: the claim and the exact derivative at ``at`` (when given and defined)
    claim_at_point: mpmath.mpf | None = None
    exact_at_point: mpmath.mpf | None = None
    one_sided: OneSided | None = None
    notes: tuple[str, ...] = ()
    #: the claim as the user wrote it
    claim_text: str = ""

    @property
    def correct(self) -> bool:
        """The claim equals the exact derivative (wherever that exists)."""
        return self.comparison.equal

    @property
    def difference(self) -> sp.Expr:
        return self.comparison.difference

    @property
    def counterexample(self) -> dict[str, sp.Expr] | None:
        return self.comparison.counterexample

    @property
    def label(self) -> str:
        power = "" if self.order == 1 else f"^{self.order}"
        return f"d{power}f/d{self.variable}{power}"


@dataclass(frozen=True)
class CheckResult:
    """The audit of a claimed derivative or gradient of ``formula``.

    ``components`` holds one :class:`ComponentResult` per claimed derivative
    (one for ``wrt``, one per variable for a gradient).  ``verdict`` is the
    worst of them (wrong > not differentiable > numerical > proved).  For a
    single derivative the properties ``exact``, ``difference``,
    ``counterexample``, ``diagnosis`` and ``evidence`` read its component.
    """

    formula: sp.Expr
    components: tuple[ComponentResult, ...]
    at: dict[str, sp.Expr] | None
    dps: int
    gradient: bool
    #: the formula as the user wrote it
    formula_text: str = ""

    def _repr_html_(self) -> str:
        """The HTML report, shown inline by Jupyter."""
        return html_of(self)

    @property
    def correct(self) -> bool:
        return all(c.correct for c in self.components)

    @property
    def verdict(self) -> Verdict:
        for verdict in (Verdict.WRONG, Verdict.NOT_DIFFERENTIABLE, Verdict.NUMERICAL):
            if any(c.verdict is verdict for c in self.components):
                return verdict
        return Verdict.PROVED

    @property
    def exit_code(self) -> int:
        """0 when every claim is correct, 1 when any is wrong (the CLI's code)."""
        return 0 if self.correct else 1

    def _single(self) -> ComponentResult:
        if len(self.components) != 1:
            raise DerivauditError("a gradient check has one result per component; "
                                  "read result.components[i]")
        return self.components[0]

    @property
    def exact(self) -> sp.Expr:
        return self._single().exact

    @property
    def difference(self) -> sp.Expr:
        return self._single().difference

    @property
    def counterexample(self) -> dict[str, sp.Expr] | None:
        return self._single().counterexample

    @property
    def diagnosis(self) -> tuple[Diagnosis, ...]:
        return self._single().diagnosis

    @property
    def evidence(self) -> pd.DataFrame | None:
        return self._single().evidence


# --------------------------------------------------------------------------
# input

def split_claim(text: str) -> list[str]:
    """Split ``"2*x*y, x**2"`` at its top-level commas (not inside ``max(a, b)``).

    A list written with brackets, ``"[2*x*y, x**2]"`` or ``"(2*x*y, x**2)"``,
    is split the same way.
    """
    parts = _split_top_level(text)
    stripped = text.strip()
    if len(parts) == 1 and len(stripped) > 1 and stripped[0] + stripped[-1] in ("[]", "()"):
        inner = _split_top_level(stripped[1:-1])
        if len(inner) > 1:
            return inner
    return parts


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _parse_part(value, what: str, limits: Limits) -> sp.Expr:
    if isinstance(value, sp.Expr):
        return value
    if isinstance(value, (int, Fraction)) and not isinstance(value, bool):
        return sp.Rational(value)
    if not isinstance(value, str):
        raise ParseError(f"{what} must be text or a sympy expression, not {type(value).__name__}")
    try:
        return parse_formula(value, limits=limits)
    except (ParseError, LimitExceeded) as exc:
        raise type(exc)(f"{what} {value!r}: {exc}") from None


def _claim_part(value, what: str, limits: Limits) -> tuple[sp.Expr, str]:
    """A claim component as ``(expression, text as given)``."""
    expr = _parse_part(value, what, limits)
    return expr, value.strip() if isinstance(value, str) else _formula_text(expr)


def _claims(claim, count: int, limits: Limits) -> list[tuple[sp.Expr, str]]:
    """The claimed derivative(s) as ``(expression, text as given)``, one per component."""
    if claim is None:
        raise DerivauditError("no claim given; pass the hand-derived derivative as claim=... "
                              "(--claim TEXT)")
    if isinstance(claim, str):
        parts = split_claim(claim)
    elif isinstance(claim, (list, tuple)):
        parts = list(claim)
    else:
        parts = [claim]
    if len(parts) != count:
        has = f"the claim has {len(parts)} component{'s' if len(parts) != 1 else ''}"
        if count == 1:
            raise DerivauditError(f"{has} but one derivative was asked; for a gradient use "
                                  "--grad / grad=[...]")
        raise DerivauditError(f"{has} but the gradient has {count}; give one per variable, "
                              "separated by commas")
    if count == 1:
        return [_claim_part(parts[0], "claim", limits)]
    return [_claim_part(p, f"claim component {i + 1}", limits) for i, p in enumerate(parts)]


def _variables(expr: sp.Expr, wrt, grad) -> tuple[list[sp.Symbol], bool]:
    if grad is not None and wrt is not None:
        raise DerivauditError("give either wrt (one derivative) or grad (a gradient), not both")
    if grad is not None:
        names = split_claim(grad) if isinstance(grad, str) else list(grad)
        variables = [as_symbol(v) for v in names]
        if not variables:
            raise DerivauditError("grad names no variables")
        seen = set()
        for v in variables:
            if v in seen:
                raise DerivauditError(f"grad names {v.name} twice")
            seen.add(v)
        require_variables(expr, variables)
        return variables, True
    var = as_symbol(wrt) if wrt is not None else default_variable(expr)
    require_variables(expr, [var])
    return [var], False


# --------------------------------------------------------------------------
# diagnosis

def _same(a: sp.Expr, b: sp.Expr, domain: Sequence[sp.Expr], limits: Limits, seed: int) -> bool:
    """Numerically the same function (12 points, 30 digits, no symbolic work)."""
    try:
        return compare_expressions(a, b, domain=domain, dps=30, points=12, seed=seed,
                                   limits=dataclasses.replace(limits, simplify_seconds=0)).equal
    except (DomainError, LimitExceeded):
        return False


#: constants a mistaken factor is tried as (times a small fraction): log10/log2 and
#: degrees-vs-radians mistakes give log(10), log(2) and pi/180
_FACTOR_CONSTANTS = (sp.Integer(1), sp.pi, sp.E, sp.log(2), sp.log(10), sp.sqrt(2))


def _constant_ratio(comparison: Comparison) -> sp.Expr | None:
    """``claim/exact`` at the counterexample as ``fraction · K^±1`` for a known constant K.

    The fraction has a denominator of at most 1000 and must match to half the
    working digits; the caller confirms the factor on the whole domain.
    """
    c, e = comparison.claim_value, comparison.exact_value
    if c is None or e is None or e == 0 or c == 0:
        return None
    dps = comparison.dps
    with mpmath.workdps(dps + GUARD_DIGITS):
        ratio = c / e
        for constant in _FACTOR_CONSTANTS:
            for power in ((1,) if constant == 1 else (1, -1)):
                k = to_mpf(constant ** power, dps + GUARD_DIGITS)
                rest = ratio / k
                fraction = Fraction(mpmath.nstr(rest, dps)).limit_denominator(1000)
                approx = mpmath.mpf(fraction.numerator) / fraction.denominator
                if fraction and abs(rest - approx) <= abs(rest) * mpmath.mpf(10) ** (-(dps // 2)):
                    return sp.Rational(fraction.numerator, fraction.denominator) * constant ** power
    return None


def _terms(expr: sp.Expr) -> list[sp.Expr]:
    """The additive terms of ``expr`` as written and of its expansion."""
    terms = list(sp.Add.make_args(expr))
    for term in sp.Add.make_args(safe_expand(expr)):
        if term not in terms:
            terms.append(term)
    return terms if len(terms) > 1 else []


def _inner_arguments(f: sp.Expr, var: sp.Symbol, limit: int = 12) -> list[sp.Expr]:
    """Arguments of functions and powers in ``f`` that depend on ``var`` non-trivially."""
    found: list[sp.Expr] = []
    for node in sp.preorder_traversal(f):
        if isinstance(node, sp.Function) or isinstance(node, sp.Pow):
            args = node.args if isinstance(node, sp.Function) else (node.base,)
            if isinstance(node, sp.Pow) and node.base == sp.E:
                args = (node.exp,)
            for arg in args:
                if arg.has(var) and arg != var and arg not in found and sp.diff(arg, var) != 1:
                    found.append(arg)
        if len(found) >= limit:
            break
    return found


def _without_inner(f: sp.Expr, var: sp.Symbol, inner: sp.Expr) -> sp.Expr | None:
    """``df/dvar`` with the factor ``d inner/dvar`` of the chain rule left out."""
    t = sp.Dummy("t", real=True)
    outer = f.subs(inner, t)
    if not outer.has(t):
        return None
    return (sp.diff(outer, var) + sp.diff(outer, t)).subs(t, inner)


def _derivative_or_none(f: sp.Expr, var: sp.Symbol, order: int, limits: Limits) -> sp.Expr | None:
    """A derivative for a diagnosis candidate, or None past the limits (the
    diagnosis is a best effort; the verdict does not depend on it)."""
    try:
        return derivative(f, var, order, limits)
    except LimitExceeded:
        return None


def diagnose(f: sp.Expr, var: sp.Symbol, order: int, claim: sp.Expr, exact: sp.Expr,
             comparison: Comparison, limits: Limits = DEFAULT_LIMITS, seed: int = 0
             ) -> tuple[Diagnosis, ...]:
    """Likely mistakes that turn ``exact`` into ``claim``, most specific first.

    Each candidate is confirmed numerically on the domain (the claim must
    *equal* the mistaken derivative as a function, not just at one point):

    - ``claim = f'(g)`` with the factor ``g'`` of an inner argument g left out: chain rule
      (tried first: it also explains a constant factor or a "wrong variable" in ``w·x + b``);
    - ``claim = c·exact``: sign flipped (c = −1) or constant factor c;
    - ``claim = ∂ⁿf/∂uⁿ`` for another variable u: wrong variable;
    - ``claim = dᵏf/dvarᵏ`` with k ≠ n: wrong order;
    - only when none of these fits: ``claim − exact = −t`` (``+t``) for a term t of
      exact (of claim), or a difference that is a single term: missing (extra) term.
    """
    domain = [f]
    found: list[Diagnosis] = []
    difference = claim - exact

    if order == 1:
        for inner in _inner_arguments(f, var):
            candidate = _without_inner(f, var, inner)
            if candidate is not None and candidate != exact and \
                    _same(claim, candidate, domain, limits, seed):
                inner_derivative = sp.diff(inner, var)
                found.append(Diagnosis(Mistake.CHAIN_RULE, f"the factor d({format_formula(inner)})"
                                       f"/d{var.name} = {format_formula(inner_derivative)} is "
                                       "missing", inner_derivative))
                break

    factor = _constant_ratio(comparison)
    if factor is not None and factor != 1 and _same(claim, factor * exact, domain, limits, seed):
        if factor == -1:
            found.append(Diagnosis(Mistake.SIGN, "claim = −exact", sp.Integer(-1)))
        else:
            found.append(Diagnosis(Mistake.FACTOR, f"claim = {format_formula(factor)}·exact",
                                   factor))

    for other in sorted(f.free_symbols - {var}, key=lambda s: s.name):
        wrong = _derivative_or_none(f, other, order, limits)
        if wrong is not None and wrong != 0 and _same(claim, wrong, domain, limits, seed):
            found.append(Diagnosis(Mistake.WRONG_VARIABLE, f"the claim is the derivative with "
                                   f"respect to {other.name}, not {var.name}", other.name))

    for k in range(0, min(order + 2, limits.max_derivative_order) + 1):
        if k != order:
            other_order = _derivative_or_none(f, var, k, limits)
            if other_order is not None and other_order != 0 and \
                    _same(claim, other_order, domain, limits, seed):
                what = "the formula itself" if k == 0 else f"the derivative of order {k}"
                found.append(Diagnosis(Mistake.WRONG_ORDER, f"the claim is {what}, not the "
                                       f"derivative of order {order}", k))

    if not found:
        for term in _terms(exact):
            if _same(difference, -term, domain, limits, seed):
                found.append(Diagnosis(Mistake.MISSING_TERM, f"the exact derivative's term "
                                       f"{format_formula(term)} is not in the claim", term))
                break
        else:
            for term in _terms(claim):
                if _same(difference, term, domain, limits, seed):
                    found.append(Diagnosis(Mistake.EXTRA_TERM, f"the claim's term "
                                           f"{format_formula(term)} does not belong", term))
                    break
            else:
                shown = comparison.difference
                if len(sp.Add.make_args(safe_expand(shown))) == 1 and not shown.is_number:
                    # claim = exact + shown: the side with more terms has the odd one
                    if _term_count(claim) > _term_count(exact):
                        found.append(Diagnosis(Mistake.EXTRA_TERM, f"the claim has the extra "
                                               f"term {format_formula(shown)}", shown))
                    else:
                        found.append(Diagnosis(Mistake.MISSING_TERM, f"the claim lacks the "
                                               f"term {format_formula(-shown)}", -shown))
    return tuple(found)


def _term_count(expr: sp.Expr) -> int:
    return 0 if expr == 0 else len(sp.Add.make_args(safe_expand(expr)))


# --------------------------------------------------------------------------
# the point

def _one_sided(f: sp.Expr, var: sp.Symbol, order: int, point: dict[sp.Symbol, sp.Expr],
               dps: int, limits: Limits) -> OneSided | None:
    """Left and right derivatives where a kink switches at the point, else None.

    Only examined when a kink argument (of ``abs``, ``max``, …) is 0 at the
    point.  Then each exact derivative ``g = f⁽ᵏ⁾``, k = 0 … order−1, is
    differentiated once more by backward and forward differences at
    ε = 10⁻⁴ … 10⁻¹⁰ (exact arithmetic, so only truncation error, O(ε)).
    ``g`` is differentiable when both sequences settle (last change below
    10⁻³ relative) on the same value (to 10⁻⁶ relative); the first ``g`` that
    is not makes the point non-differentiable for this order.
    """
    variables = tuple(point)
    derivatives = [derivative(f, var, k, limits) for k in range(order)]
    switching = False
    for kink in kink_arguments(derivatives):
        # exactly 0 (resolved like every value here): x = 1e-20 is not relu's switch
        if _value_at(kink, point, dps, limits) == 0:
            switching = True
    if not switching:
        return None
    for k, g in enumerate(derivatives):
        samples = Samples(compile_formula(off_switches(g), variables), var, point)
        sides = []
        for st in (backward(1), forward(1)):
            try:
                values = [difference_quotient(samples, st, eps, dps, limits) for eps in _ONE_SIDED_EPS]
            except DomainError:
                sides.append(None)
                continue
            with mpmath.workdps(dps + GUARD_DIGITS):
                last, before = values[-1], values[-2]
                settled = abs(last - before) <= mpmath.mpf("1e-3") * max(1, abs(last))
                sides.append(+last if settled else None)
        left, right = sides
        what = "f" if k == 0 else f"d^{k}f/d{var.name}^{k}" if k > 1 else f"df/d{var.name}"
        if left is None or right is None:
            side = {(True, True): "both sides", (True, False): "left",
                    (False, True): "right"}[(left is None, right is None)]
            return OneSided(left, right, f"the one-sided difference quotients of {what} diverge "
                                         f"or are undefined ({side})")
        with mpmath.workdps(dps):
            if abs(left - right) > mpmath.mpf("1e-6") * max(1, abs(left), abs(right)):
                return OneSided(left, right, f"the left and right derivatives of {what} differ")
    return None


def _resolved_value(expr: sp.Expr, point, dps: int, limits: Limits) -> mpmath.mpf:
    """``expr`` at the exact point to ``dps`` digits (DomainError where undefined).

    :func:`~derivaudit.numeric.exact_value` resolves values to relative
    precision, and recognises a zero only where sympy proves it
    (``sin(pi*x)`` at ``x = 2``).  A zero sympy cannot prove (``log(6) −
    log(2) − log(3)``) never reaches relative precision; for a verdict such a
    value, below ``10⁻ᵈᵖˢ`` at ``2·dps + GUARD_DIGITS`` digits, counts as 0.
    """
    compiled = compile_formula(off_switches(expr), tuple(point))
    try:
        return exact_value(compiled, point, dps, limits)
    except LimitExceeded:
        value = _plain_value(compiled, point, 2 * dps + GUARD_DIGITS)
        if value is not None and abs(value) < mpmath.mpf(10) ** (-dps):
            return mpmath.mpf(0)
        raise


def _value_at(expr: sp.Expr, point, dps: int, limits: Limits) -> mpmath.mpf | None:
    """Like :func:`_resolved_value`, None where undefined or not real."""
    try:
        return _resolved_value(expr, point, dps, limits)
    except DomainError:
        return None


class _NoEvidence(Exception):
    """No evidence table at a point; the message says why."""


def _evidence(f: sp.Expr, var: sp.Symbol, order: int, point: dict[sp.Symbol, sp.Expr],
              claim_value: mpmath.mpf | None, dps: int, limits: Limits) -> pd.DataFrame:
    """Centered and forward sweeps at ``point`` with the claim's value and distance.

    Steps shrink (:data:`EVIDENCE_EPS`) until the stencils stay in the domain.
    Raises :class:`_NoEvidence` when there can be no table at the point.
    """
    if derivative(f, var, order, limits).has(sp.DiracDelta):
        # study evaluates the exact derivative, and mpmath has no DiracDelta
        raise _NoEvidence("no evidence table: the exact derivative contains DiracDelta")
    at = {s.name: v for s, v in point.items()}
    for eps in EVIDENCE_EPS:
        try:
            table = study(f, wrt=var.name, at=at, eps=eps, schemes=("centered", "forward"),
                          order=order, dps=dps, limits=limits)
            break
        except DomainError:
            continue
        except LimitExceeded as exc:
            # a value at the point beyond the precision or magnitude limits
            raise _NoEvidence(f"no evidence table at the point: {exc}") from None
    else:
        raise _NoEvidence("no evidence table: every step tried leaves the domain near the point")
    with mpmath.workdps(dps):
        if claim_value is None:
            table["claim"] = mpmath.mpf("nan")
            table["distance_to_claim"] = mpmath.mpf("nan")
        else:
            table["claim"] = [+claim_value] * len(table)
            table["distance_to_claim"] = [abs(resolved_difference(a, claim_value, dps))
                                          for a in table["approx"]]
    return table


def _symbol_point(f: sp.Expr, point: Mapping[str, sp.Expr]) -> dict[sp.Symbol, sp.Expr]:
    by_symbol = {as_symbol(name): value for name, value in point.items()}
    return {v: by_symbol[v] for v in sorted(f.free_symbols, key=lambda s: s.name)}


def _evidence_off_the_point(f: sp.Expr, var: sp.Symbol, order: int, claim: sp.Expr,
                            exact: sp.Expr, comparison: Comparison, dps: int, limits: Limits,
                            points: int, seed: int):
    """The evidence at the counterexample: ``(point, table, note)``.

    When the study cannot give evidence at the first counterexample (a small
    fraction; e.g. a value there is beyond the limits), a random
    counterexample is used instead.
    """
    point = _symbol_point(f, comparison.counterexample)
    try:
        return point, _evidence(f, var, order, point, comparison.claim_value, dps, limits), None
    except _NoEvidence as exc:
        note = str(exc)
    other = compare_expressions(claim, exact, domain=[f], dps=dps, points=points, seed=seed,
                                small_fractions=False,
                                limits=dataclasses.replace(limits, simplify_seconds=0))
    if other.counterexample is not None:
        moved = _symbol_point(f, other.counterexample)
        try:
            return moved, _evidence(f, var, order, moved, other.claim_value, dps, limits), None
        except _NoEvidence:
            pass
    return point, None, note


def _component(f: sp.Expr, var: sp.Symbol, order: int, claim: sp.Expr, claim_text: str,
               point: dict[sp.Symbol, sp.Expr] | None, dps: int, limits: Limits,
               points: int, seed: int) -> ComponentResult:
    """Audit one claimed derivative: compare, examine the point, diagnose, gather evidence."""
    exact = derivative(f, var, order, limits)
    comparison = compare_expressions(claim, exact, domain=[f], limits=limits, dps=dps,
                                     points=points, seed=seed)
    verdict = {"proved": Verdict.PROVED, "numerical": Verdict.NUMERICAL,
               "different": Verdict.WRONG}[comparison.status]
    notes: list[str] = []
    one_sided = claim_at = exact_at = None
    if point is not None:
        one_sided = _one_sided(f, var, order, point, dps, limits)
        if one_sided is None:
            exact_at = _value_at(exact, point, dps, limits)
            if exact_at is None:
                one_sided = OneSided(None, None, "the exact derivative is undefined there "
                                                 "although the formula is defined")
        if one_sided is not None:
            verdict = Verdict.NOT_DIFFERENTIABLE
        claim_at = _value_at(claim, point, dps, limits)
        if claim_at is None:
            notes.append("the claim is undefined or not real at the point")
        elif exact_at is not None and not comparison.equal:
            with mpmath.workdps(dps):
                if abs(claim_at - exact_at) <= max(abs(claim_at), abs(exact_at)) * \
                        mpmath.mpf(10) ** (-dps):
                    notes.append("at the given point the claim happens to equal the exact "
                                 "derivative; it differs elsewhere (see the counterexample)")
    diagnosis = () if comparison.equal else diagnose(f, var, order, claim, exact, comparison,
                                                      limits, seed)
    evidence = evidence_point = None
    if point is not None and one_sided is None:
        evidence_point = point
        try:
            evidence = _evidence(f, var, order, point, claim_at, dps, limits)
        except _NoEvidence as exc:
            notes.append(str(exc))
    elif not comparison.equal:
        # no point given, or a kink there: the evidence is taken where the claim fails
        evidence_point, evidence, note = _evidence_off_the_point(
            f, var, order, claim, exact, comparison, dps, limits, points, seed)
        if note:
            notes.append(note)
    return ComponentResult(
        variable=var.name, order=order, claim=claim, exact=exact, verdict=verdict,
        comparison=comparison, diagnosis=diagnosis, evidence=evidence,
        evidence_point=None if evidence_point is None else
        {s.name: v for s, v in evidence_point.items()},
        claim_at_point=claim_at, exact_at_point=exact_at, one_sided=one_sided,
        notes=tuple(notes), claim_text=claim_text)


def check(formula, wrt=None, claim=None, *, order: int = 1, grad=None,
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
    at : mapping name → value, optional
        A point to examine: the evidence table is computed there, and a kink
        there gives the verdict "not differentiable at the point".  Values
        are exact (``"0.1"`` is 1/10).
    dps : int
        Digits to which claim and exact derivative must agree at each
        evidence point, and of every number reported.
    limits : :class:`~derivaudit.limits.Limits`; ``simplify_seconds`` bounds
        the symbolic proof.
    points, seed : number of random evidence points and their seed.

    Raises :class:`~derivaudit.errors.ParseError` (formula or claim
    unreadable), :class:`~derivaudit.errors.DerivauditError` (unknown
    variables, wrong number of components) and
    :class:`~derivaudit.errors.DomainError` (``at`` outside the domain).
    """
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise DerivauditError(f"derivative order must be a whole number ≥ 1, not {order!r}")
    dps = check_dps(dps, limits)
    f = _parse_part(formula, "formula", limits)
    if not f.free_symbols:
        raise DerivauditError("the formula has no variables to differentiate by")
    variables, is_gradient = _variables(f, wrt, grad)
    if is_gradient and order != 1:
        raise DerivauditError("a gradient is a first derivative; use wrt with order for "
                              "higher derivatives")
    claims = _claims(claim, len(variables), limits)
    known = {s.name for s in f.free_symbols}
    for i, (c, _) in enumerate(claims):
        extra = sorted({s.name for s in c.free_symbols} - known)
        if extra:
            where = "the claim" if len(claims) == 1 else f"claim component {i + 1}"
            raise DerivauditError(f"{where} uses {', '.join(extra)}, which the formula does not "
                                  f"(its variables: {', '.join(sorted(known))})")
    point = None
    if at:
        point = resolve_point(f, at)
        try:
            _resolved_value(f, point, dps, limits)
        except DomainError as exc:
            raise DomainError(f"the point given is outside the formula's domain: {exc}") from None
    components = tuple(_component(f, var, order, c, text, point, dps, limits, points, seed)
                       for var, (c, text) in zip(variables, claims))
    return CheckResult(formula=f, components=components,
                       at=None if point is None else {s.name: v for s, v in point.items()},
                       dps=dps, gradient=is_gradient,
                       formula_text=formula.strip() if isinstance(formula, str) else _formula_text(f))


# --------------------------------------------------------------------------
# text

EVIDENCE_COLUMNS = ("scheme", "eps", "approx", "exact", "abs_error", "claim", "distance_to_claim",
                    "observed_order")


def _formula_text(expr: sp.Expr) -> str:
    try:
        return format_formula(expr)
    except ParseError:
        return str(expr)


def _number(value, digits: int) -> str:
    if value is None:
        return "undefined (not real)"
    return mpmath.nstr(value, digits)


def _exact_text(value: sp.Expr) -> str:
    """An exact value for display: small fractions as ``1/2``, other terminating
    fractions as decimals (``4.88476531339``, the random evidence points)."""
    if isinstance(value, sp.Rational) and not value.is_Integer and value.q > 8:
        q, twos, fives = value.q, 0, 0
        while q % 2 == 0:
            q, twos = q // 2, twos + 1
        while q % 5 == 0:
            q, fives = q // 5, fives + 1
        if q == 1:
            digits = max(twos, fives)
            scaled = str(abs(value.p) * 10 ** digits // value.q).rjust(digits + 1, "0")
            return f"{'-' if value.p < 0 else ''}{scaled[:-digits]}.{scaled[-digits:]}"
    return _formula_text(value)


def _point_text(point: Mapping[str, sp.Expr]) -> str:
    return ", ".join(f"{name}={_exact_text(value)}" for name, value in point.items())


def _verdict_line(component: ComponentResult) -> str:
    comparison = component.comparison
    if component.verdict is Verdict.PROVED:
        return f"CORRECT (proved symbolically: {comparison.method})"
    if component.verdict is Verdict.NUMERICAL:
        return f"CORRECT (numerically, not proved): {comparison.method}"
    if component.verdict is Verdict.WRONG:
        return "WRONG"
    if not component.correct:
        return "NOT DIFFERENTIABLE AT THE POINT, and the claim is WRONG elsewhere"
    how = ("proved" if comparison.status == "proved" else
           f"numerically at {comparison.points_tested} points")
    return f"NOT DIFFERENTIABLE AT THE POINT (the claim is correct elsewhere, {how})"


def format_component(component: ComponentResult, digits: int = 20) -> str:
    """Readable audit of one claimed derivative: verdict, exact, difference, evidence."""
    label = component.label
    lines = [f"{label}: {_verdict_line(component)}",
             f"  claim:      {component.claim_text or _formula_text(component.claim)}",
             f"  exact:      {_formula_text(component.exact)}"]
    if component.comparison.status != "proved":
        lines.append(f"  difference: {_formula_text(component.difference)}   (claim − exact)")
    comparison = component.comparison
    if comparison.counterexample is not None:
        lines.append(f"  counterexample: {_point_text(comparison.counterexample)}: claim = "
                     f"{_number(comparison.claim_value, digits)}, exact = "
                     f"{_number(comparison.exact_value, digits)}")
    for diagnosis in component.diagnosis:
        lines.append(f"  likely mistake: {diagnosis}")
    if not component.correct and not component.diagnosis:
        lines.append("  likely mistake: no simple pattern (sign, factor, term, variable, chain "
                     "rule, order) explains it; see the difference")
    if component.one_sided is not None:
        sided = component.one_sided
        lines.append(f"  at the point: {sided.reason}: left derivative "
                     f"{_number(sided.left, 12) if sided.left is not None else 'none'}, right "
                     f"derivative {_number(sided.right, 12) if sided.right is not None else 'none'}")
    elif component.exact_at_point is not None:
        lines.append(f"  at the point: claim = {_number(component.claim_at_point, digits)}, "
                     f"exact = {_number(component.exact_at_point, digits)}")
    for note in component.notes:
        lines.append(f"  note: {note}")
    if component.evidence is not None:
        lines.append(f"  evidence at {_point_text(component.evidence_point)} ({comparison.dps} "
                     "digits): finite differences converge to the exact value, "
                     + ("and so to the claim" if component.correct else "not to the claim"))
        columns = [c for c in EVIDENCE_COLUMNS if c in component.evidence.columns]
        table = _evidence_text(component.evidence, columns, digits)
        lines += ["    " + row for row in table.splitlines()]
    return "\n".join(lines)


def _evidence_text(table: pd.DataFrame, columns, digits: int) -> str:
    if not isinstance(table["claim"].iloc[0], mpmath.mpf) or mpmath.isnan(table["claim"].iloc[0]):
        columns = [c for c in columns if c not in ("claim", "distance_to_claim")]
    return table_as_text(table, digits=digits, columns=tuple(columns))


def format_result(result: CheckResult, digits: int = 20) -> str:
    """The whole audit as text: the formula, then one block per component."""
    lines = [f"f = {result.formula_text or _formula_text(result.formula)}"]
    if result.at is not None:
        lines.append(f"at {_point_text(result.at)}")
    blocks = [format_component(c, digits) for c in result.components]
    text = "\n".join(lines) + "\n\n" + "\n\n".join(blocks)
    if result.gradient:
        wrong = sum(not c.correct for c in result.components)
        total = len(result.components)
        summary = (f"gradient: all {total} components correct" if not wrong else
                   f"gradient: {wrong} of {total} components wrong")
        text += "\n\n" + summary
    return text
