"""Is a claimed expression identically equal to an exact one?

:func:`compare_expressions` is a decision procedure with four outcomes, and
says which step decided:

1. **Quick witness pass** (milliseconds): ``claim − exact`` is evaluated in
   certified ball arithmetic (:class:`~derivaudit.checks.witness.WitnessSearch`)
   at small fractions (``x = 1/2``, for a readable counterexample) and at
   ``points`` random 12-digit decimals of the domain.  A point where the ball
   of ``claim − exact`` excludes 0 is a **witness**: status ``"different"``.
2. **Symbolic proof** (:func:`~derivaudit.checks.proof.symbolic_difference`,
   in a worker process under ``limits.simplify_seconds``): a canonical form
   of ``claim − exact`` that is 0 makes the status ``"proved"``.
3. **Witness search** when not proved: both sides of every kink, pole and
   branch point wherever it lies, magnitudes over the scales the constants
   imply, more random points; the shortest symbolic form of the difference
   guides the precision where the difference is tiny.  A witness makes the
   status ``"different"``.
4. Otherwise ``"numerical"`` when every point was resolved (both sides
   certified to ``dps`` digits and agreeing) and at least ``points`` agreed;
   ``"undecided"`` when a value could not be resolved, too few points agreed,
   or the time budget ran out — :attr:`Comparison.method` says why.

A difference is never judged from rounding noise: only a ball that excludes
0 is a witness, and only certified digits count as agreement.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import mpmath
import sympy as sp

from derivaudit.checks.proof import positive_on_domain, symbolic_difference
from derivaudit.checks.regions import cell_points
from derivaudit.checks.witness import (MAX_UNRESOLVED, NICE_POINTS, WitnessSearch, is_total, constant_scales, draw_points,
                                       plan_points, search_variables, switch_arguments)
from derivaudit.errors import DerivauditError, DomainError
from derivaudit.limits import DEFAULT_LIMITS, Limits

__all__ = ["STATUSES", "Comparison", "compare_expressions", "off_switches", "ATTEMPTS_PER_POINT"]

#: the statuses of a :class:`Comparison`, most certain first
STATUSES = ("proved", "numerical", "undecided", "different")
#: candidate points tried per requested point before giving up on the domain
ATTEMPTS_PER_POINT = 60


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing ``claim`` with ``exact``.

    ``status`` is one of :data:`STATUSES`: ``"proved"`` (``claim − exact``
    simplifies to 0), ``"numerical"`` (certified equal to ``dps`` digits at
    ``points_tested`` points of the domain, none a witness, not reduced to 0
    within the time budget), ``"undecided"`` (neither; ``method`` says why and
    what would decide) or ``"different"`` (``counterexample`` is an exact
    point where the ball of ``claim − exact`` excludes 0; ``claim_value`` and
    ``exact_value`` are the two sides there, ``difference_value`` the
    certified difference, which may be far below ``10⁻ᵈᵖˢ`` of either side;
    ``claim_value`` is None where the claim is undefined or not real
    although the exact side is).  ``difference`` is ``claim − exact``
    simplified as far as the budget allowed; ``method`` says what decided.
    """

    status: str
    difference: sp.Expr
    counterexample: dict[str, sp.Expr] | None
    claim_value: mpmath.mpf | None
    exact_value: mpmath.mpf | None
    points_tested: int
    dps: int
    method: str
    difference_value: mpmath.mpf | None = None

    @property
    def equal(self) -> bool:
        """True when proved or numerically equal (never for undecided)."""
        return self.status in ("proved", "numerical")

    @property
    def different(self) -> bool:
        """True when a certified witness was found."""
        return self.status == "different"


def off_switches(expr: sp.Expr) -> sp.Expr:
    """``expr`` with ``DiracDelta`` terms set to 0, their value off the switch set.

    Derivatives of kinked functions contain ``DiracDelta(a)`` (the derivative of
    ``Heaviside(a)``), which is 0 wherever ``a ≠ 0``; the switch sets themselves
    (measure zero) are never evidence points.
    """
    if not expr.has(sp.DiracDelta):
        return expr
    return expr.replace(sp.DiracDelta, lambda *args: sp.S.Zero)


def _as_expr(value, what: str) -> sp.Expr:
    if isinstance(value, sp.Expr):
        return value
    if isinstance(value, (int, sp.Rational)) and not isinstance(value, bool):
        return sp.Integer(value) if isinstance(value, int) else value
    raise DerivauditError(f"{what} must be a sympy expression, not {type(value).__name__}")


def _quick_pass(search: WitnessSearch, variables, points: int, seed: int, small_fractions: bool) -> None:
    """Small fractions, then random points, until ``points`` agree or a witness turns up."""
    candidates = draw_points(variables, seed, small_fractions)
    nice = NICE_POINTS if small_fractions else 0
    for index in range(points * ATTEMPTS_PER_POINT):
        if search.expired():
            return
        outcome = search.judge(next(candidates), removable_ok=index < nice)
        if outcome.kind == "witness" or search.result.agreements >= points or search.expired() \
                or len(search.result.unresolved) >= MAX_UNRESOLVED:
            return


def _full_search(search: WitnessSearch, claim, exact, domain, variables, points: int, seed: int) -> None:
    """Both sides of every switch and the constants' magnitudes, around two base points,
    then random points over a range widened to the constants' scales."""
    if search.expired():
        return
    powers = constant_scales([claim, exact, *domain, *search.claim_domain])
    switches = switch_arguments([claim, exact, *domain, *search.claim_domain])
    moving = sorted(set((claim - exact).free_symbols).union(*(s.free_symbols for s in switches))
                    & set(variables), key=lambda v: v.name)
    bases = draw_points(variables, seed + 1, small_fractions=True)
    for _ in range(2):
        base = next(bases)
        for point in itertools.chain(plan_points(moving, switches, powers, base),
                                     cell_points(moving, switches, powers, base)):
            if search.expired() or search.judge(point).kind == "witness":
                return
    widest = max(abs(k) for k in powers)
    candidates = draw_points(variables, seed + 2, small_fractions=False, widest=widest)
    start = search.result.agreements
    unresolved = len(search.result.unresolved)
    for _ in range(points * ATTEMPTS_PER_POINT):
        if search.expired() or search.judge(next(candidates)).kind == "witness":
            return
        if search.result.agreements - start >= points \
                or len(search.result.unresolved) - unresolved >= MAX_UNRESOLVED:
            return


def _different(search: WitnessSearch, difference, limits: Limits, dps: int, method: str,
               everything: Sequence[sp.Symbol]) -> Comparison:
    """The comparison for a witness; variables the search did not need (those only of a
    domain expression defined everywhere) get small fractions, so the point is complete."""
    witness = search.result.witness
    filler = next(draw_points(everything))
    point = {v: witness.point.get(v, filler[v]) for v in everything}
    # only for display: the cheap forms (factor among them) without simplify
    shown = (symbolic_difference(difference, limits.simplify_seconds, use_simplify=False).best
             if difference != 0 else difference)
    if shown == 0:  # simplification "proved" what a point refutes: show the raw difference
        shown = difference
    claim_value, exact_value, difference_value = search.witness_values()
    return Comparison("different", shown, {v.name: value for v, value in point.items()},
                      claim_value, exact_value, search.result.tried, dps,
                      f"counterexample: {method} point {search.result.tried}: {witness.reason}",
                      difference_value=difference_value)


def compare_expressions(claim, exact, *, domain: Sequence[sp.Expr] = (),
                        limits: Limits = DEFAULT_LIMITS, dps: int = 50, points: int = 24,
                        seed: int = 0, small_fractions: bool = True, search: bool = True,
                        deadline: float | None = None, claim_domain: Sequence[sp.Expr] = ()) -> Comparison:
    """Decide whether ``claim`` and ``exact`` are the same function.

    Parameters
    ----------
    claim, exact : sympy.Expr
        The two sides (typically a hand-derived and the exact derivative).
    domain : expressions that must be real and finite at every evidence
        point (typically the original formula); the exact side always must.
    claim_domain : the claim's typed partial sub-formulas
        (:func:`~derivaudit.lang.parse.typed_domain`): where one is undefined and the
        exact side is defined, the claim is undefined — a witness.
    limits : ``limits.simplify_seconds`` bounds the symbolic work.
    dps : significant digits to which the sides must agree at each point.
    points : number of agreeing random points required (per phase).
    seed : seed of the reproducible point sequence.
    small_fractions : try small fractions (x = 1/2, 3/2, …) first, for a
        readable counterexample; False uses random decimals only.
    search : run the full witness search when the proof fails (False: the
        quick pass only, for the diagnosis' cheap confirmations).
    deadline : ``time.monotonic()`` value after which the search stops
        (the verdict is then ``undecided`` unless decided already).

    Returns a :class:`Comparison`; see the module docstring for the method.
    Raises :class:`~derivaudit.errors.DomainError` when no point of the
    domain can be found.

    >>> x = sp.Symbol("x")
    >>> compare_expressions(sp.Integer(0), sp.Heaviside(x - 100), domain=[sp.Max(x, 100)]).status
    'different'
    """
    claim, exact = _as_expr(claim, "claim"), _as_expr(exact, "exact")
    domain = [_as_expr(d, "domain expression") for d in domain]
    if not isinstance(points, int) or points < 1:
        raise DerivauditError(f"points must be a whole number ≥ 1, not {points!r}")
    claim_domain = [_as_expr(d, "claim domain expression") for d in claim_domain]
    everything = search_variables(claim, exact, [*domain, *claim_domain])
    claim, exact = off_switches(claim), off_switches(exact)
    # an expression defined everywhere constrains no point (and its other variables need no values)
    domain = [off_switches(d) for d in domain if not is_total(d)]
    difference = claim - exact
    variables = search_variables(claim, exact, [*domain, *claim_domain])
    witnesses = WitnessSearch(claim, exact, domain, variables, dps, limits, deadline,
                              claim_domain=[d for d in claim_domain if not is_total(d)])
    _quick_pass(witnesses, variables, points if variables else 1, seed, small_fractions)
    if witnesses.result.witness is not None:
        return _different(witnesses, difference, limits, dps, "evidence", everything)
    if witnesses.result.agreements == 0 and variables and search:
        # a domain far from the origin (sqrt(x - 10**6)): the planned points find it
        _full_search(witnesses, claim, exact, domain, variables, points, seed)
        if witnesses.result.witness is not None:
            return _different(witnesses, difference, limits, dps, "witness search", everything)
    result = witnesses.result
    if result.agreements == 0 and not result.unresolved and not result.out_of_time:
        names = ", ".join(v.name for v in variables)
        raise DomainError(f"found no point where the formula and its derivative are real, defined "
                          f"and within the evaluation limits (tried {result.tried} points in {names})")
    if witnesses.claim_domain and search and variables:
        # the claim as typed may be undefined where sympy's rewriting of it is not (exp(log(x))
        # is x): an identity proves nothing there, so its domain's every region is searched first
        _full_search(witnesses, claim, exact, domain, variables, points, seed)
        if witnesses.result.witness is not None:
            return _different(witnesses, difference, limits, dps, "witness search", everything)
    if difference == 0:
        return Comparison("proved", difference, None, None, None, result.agreements, dps,
                          "identical after sympy's automatic simplification")
    seconds = limits.simplify_seconds
    if deadline is not None:
        seconds = max(0.0, min(seconds, deadline - time.monotonic()))
    symbolic = symbolic_difference(difference, seconds, positive=positive_on_domain([*domain, exact]))
    if symbolic.proved_by is not None:
        return Comparison("proved", sp.Integer(0), None, None, None, result.agreements, dps,
                          symbolic.proved_by)
    if search and variables:
        witnesses.set_hint(symbolic.best)
        _full_search(witnesses, claim, exact, domain, variables, points, seed)
        if result.witness is not None:
            return _different(witnesses, difference, limits, dps, "witness search", everything)
    return _undecided_or_numerical(witnesses, symbolic, seconds, dps, bool(variables))


def _undecided_or_numerical(witnesses: WitnessSearch, symbolic, seconds: float, dps: int,
                            has_variables: bool) -> Comparison:
    """Numerical when every point that counts agreed, else undecided with the reasons."""
    result = witnesses.result
    why = ("simplification did not reach 0" if symbolic.finished
           else f"simplification gave up after {seconds:g} s")
    reasons, caveat = [], ""
    hinted = [u for u in result.unresolved if u.hinted]
    if hinted:
        reasons.append(f"{_where(hinted[0])} {hinted[0].reason}; more digits (Limits.max_dps) would decide")
    elif result.unresolved and result.agreements < len(result.unresolved):
        reasons.append(f"{len(result.unresolved)} point(s) could not be resolved ({_where(result.unresolved[0])} "
                       f"{result.unresolved[0].reason}) and only {result.agreements} agreed; more digits "
                       "(--dps) or a domain hint (--at) would decide")
    elif result.unresolved:
        caveat = (f"; {len(result.unresolved)} point(s) beyond the precision cap not used "
                  f"({_where(result.unresolved[0]).rstrip(':')})")
    if result.out_of_time:
        reasons.append("the time budget ran out before the witness search finished; a larger "
                       "budget (Limits.check_seconds) or fewer components would decide")
    if has_variables and result.agreements == 0 and not reasons:
        reasons.append("no point of the domain could be evaluated; a domain hint (--at) would decide")
    if reasons:
        return Comparison("undecided", symbolic.best, None, None, None, result.agreements, dps,
                          f"neither proved nor refuted: {'; '.join(reasons)}; {why}")
    region = result.region_text()
    evidence = (f"equal to {dps} digits at {result.agreements} points"
                + (f" ({region}; both sides of every kink and branch point, magnitudes to the "
                   f"constants' scales; certified balls)" if region else "") if has_variables
                else f"equal to {dps} digits")
    return Comparison("numerical", symbolic.best, None, None, None, result.agreements, dps,
                      f"{evidence}{caveat}; {why}")


def _where(outcome) -> str:
    return "at " + ", ".join(f"{v.name}={value}" for v, value in outcome.point.items()) + ":"
