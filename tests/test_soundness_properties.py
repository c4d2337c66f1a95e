"""Property tests of the check's decision procedure (issue 13).

Random formulas ``f`` come from a small grammar with kinks (``abs``, ``relu``,
``max``) placed far from the origin and large constants.  Then:

- ``f′ + p`` for a perturbation ``p`` that is non-zero somewhere in the domain
  (a tiny constant, a far kink term, a far exponential, one term's sign
  flipped) is never judged correct;
- ``f′`` written in a random equivalent form is never judged wrong.

Issue 22 adds ties (three tied arguments), half-line domains (``sqrt(relu(a))``),
narrow bumps, scales hidden in functions (``exp(20)``, ``E**28``, ``log`` thresholds)
and a claim equal to ``f′`` as sympy builds it but typed with ``log(x)`` (undefined
for x ≤ 0); the exact side is derivaudit's own piecewise derivative.

A few examples run in CI; ``DERIVAUDIT_PROPERTY_EXAMPLES=500`` runs more.
"""

import os

import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derivaudit.checks.equivalence import compare_expressions
from derivaudit.core.symbolic import derivative
from derivaudit.lang.parse import make_symbol
from derivaudit.limits import Limits

EXAMPLES = int(os.environ.get("DERIVAUDIT_PROPERTY_EXAMPLES", "6"))
#: with the symbolic proof (1 s) and without it (the witness search alone decides)
LIMITS = (Limits(simplify_seconds=1.0), Limits(simplify_seconds=0))
x = make_symbol("x")

#: how many perturbed claims and equivalent forms were judged (read by the report script)
TRIED = {"perturbed": 0, "equivalent": 0, "outcomes": {}}

big = st.sampled_from([sp.Integer(10) ** k for k in (2, 3, 4, 6)] + [sp.Integer(50), sp.Integer(1500)])
small = st.integers(-3, 3).filter(bool).map(sp.Integer)
constant = st.one_of(small, big, st.sampled_from([sp.Rational(1, 3), sp.Rational(7, 10)]))


def _leaf():
    return st.one_of(st.just(x), st.builds(lambda c: c * x, small), st.builds(lambda c: x - c, big),
                     st.builds(lambda c: x + c, constant))


def _grow(children):
    unary = st.sampled_from([sp.sin, sp.cos, sp.tanh, sp.atan, sp.Abs,
                             lambda a: sp.Max(0, a), lambda a: sp.log(1 + a ** 2),
                             lambda a: sp.sqrt(a ** 2 + 1)])
    return st.one_of(
        st.builds(lambda f, a: f(a), unary, children),
        st.builds(lambda a, b: a + b, children, children),
        st.builds(lambda a, b: a * b, children, children),
        st.builds(lambda a, c: sp.Max(a, c), children, constant),
        st.builds(lambda a, c: sp.Abs(a - c), children, big),
        # ties (three arguments equal on a half-line), half-line domains, constant pieces
        st.builds(lambda a: sp.Max(a, sp.Abs(a), 2 * sp.Max(0, a) - a), children),
        st.builds(lambda a: sp.sqrt(sp.Max(0, a)), children),
    )


formulas = st.recursive(_leaf(), _grow, max_leaves=4).filter(lambda f: f.has(x))

perturbations = st.one_of(
    st.builds(lambda k: sp.Integer(10) ** -k, st.integers(20, 80)),                     # tiny constant
    st.builds(lambda c, a: a * sp.Max(0, x - c), st.sampled_from([10 ** 3, 10 ** 5, 10 ** 7]), small),
    st.builds(lambda c: sp.exp(x - c), st.sampled_from([100, 700, 2000])),                # far exponential
    st.just("flip"),                                                                     # one term's sign
    # issue 22: a narrow bump, scales hidden in functions, a claim undefined on a half-line
    st.builds(lambda c: sp.Max(0, sp.Rational(1, 10 ** 7) - sp.Abs(x - c)), st.sampled_from(
        [sp.Rational(3, 10), sp.Rational(-17, 10), sp.Integer(1000)])),
    st.sampled_from([sp.Max(0, sp.Abs(x) - sp.exp(20)), sp.Max(0, x ** 2 - sp.E ** 28),
                     sp.Max(0, sp.log(sp.Abs(x)) - 30), sp.Max(0, -sp.log(sp.Abs(x)) - 30)]),
    st.just("half-line"),
)


_PROBES = [sp.Rational(p, 10) for p in (3, -17, 29, 113, 12345, -5678, 7)]


def _perturbed(derivative: sp.Expr, perturbation, index: int) -> sp.Expr | None:
    if perturbation == "half-line":  # typed as f' + log(x) - log(x): sympy's form is f', real only for x > 0
        return derivative
    if perturbation != "flip":
        return derivative + perturbation
    terms = [t for t in sp.Add.make_args(derivative) if not t.has(sp.DiracDelta)]
    if len(terms) < 2:
        return None
    term = terms[index % len(terms)]
    # a term can vanish almost everywhere (cos(x)·Heaviside(sin(x) - 1) is 0 but where
    # cos(x) = 0 too): flipping it perturbs nothing, so it is not a wrong claim
    if not any(abs(complex(term.subs(x, v).evalf(30))) > 1e-20 for v in _PROBES):
        return None
    return derivative - 2 * term


def _equivalent(derivative: sp.Expr, how: int) -> sp.Expr:
    forms = [
        lambda d: sp.expand(d),
        lambda d: d + sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1,
        lambda d: d * (x ** 2 + 1) / (x ** 2 + 1),
        lambda d: sp.Add(*reversed(sp.Add.make_args(d)), evaluate=False) + 0 * x,
        lambda d: d.rewrite(sp.tanh, sp.exp).rewrite(sp.cosh, sp.exp).rewrite(sp.sinh, sp.exp),
        lambda d: d + sp.log(6 * (x ** 2 + 1)) - sp.log(2 * (x ** 2 + 1)) - sp.log(3),
    ]
    return forms[how % len(forms)](derivative)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 10,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(formulas, perturbations, st.integers(0, 5), st.sampled_from(LIMITS))
def test_a_perturbed_derivative_is_never_correct(f, perturbation, index, limits):
    exact = derivative(f, "x")
    claim = _perturbed(exact, perturbation, index)
    if claim is None:
        return
    claim_domain = [sp.log(x)] if perturbation == "half-line" else []
    if not claim_domain and sp.expand(claim - exact) == 0:
        return
    TRIED["perturbed"] += 1
    comparison = compare_expressions(claim, exact, domain=[f], limits=limits, claim_domain=claim_domain)
    key = f"perturbed {comparison.status}"
    TRIED["outcomes"][key] = TRIED["outcomes"].get(key, 0) + 1
    assert comparison.status in ("different", "undecided"), (f, claim, comparison.method)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 10,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(formulas, st.integers(0, 5), st.sampled_from(LIMITS))
def test_an_equivalent_form_of_the_derivative_is_never_wrong(f, how, limits):
    exact = derivative(f, "x")
    claim = _equivalent(exact, how)
    TRIED["equivalent"] += 1
    comparison = compare_expressions(claim, exact, domain=[f], limits=limits)
    key = f"equivalent {comparison.status}"
    TRIED["outcomes"][key] = TRIED["outcomes"].get(key, 0) + 1
    assert comparison.status != "different", (f, claim, comparison.method, comparison.counterexample)
