"""derivaudit.checks.equivalence.compare_expressions: the reusable claim-vs-exact decision."""

import multiprocessing

import mpmath
import pytest
import sympy as sp

from derivaudit.checks.equivalence import compare_expressions, off_switches
from derivaudit.checks.proof import kink_arguments
from derivaudit.checks.witness import draw_points
from derivaudit.errors import DerivauditError, DomainError
from derivaudit.limits import Limits
from derivaudit.lang.parse import make_symbol, parse_formula as P

x, y = make_symbol("x"), make_symbol("y")


def test_identical_after_automatic_simplification():
    c = compare_expressions(P("2*x"), P("x + x"))
    assert c.status == "proved" and c.difference == 0 and c.points_tested == 24


def test_proof_by_canonical_form_names_the_method():
    c = compare_expressions(P("(x + 1)**2"), P("x**2 + 2*x + 1"))
    assert c.status == "proved" and c.method == "expand"


def test_counterexample_is_exact_and_reproducible():
    first = compare_expressions(P("3*x"), P("3*x**2"))
    again = compare_expressions(P("3*x"), P("3*x**2"))
    assert first == again
    assert first.status == "different" and first.counterexample == {"x": sp.Rational(1, 2)}
    assert (first.claim_value, first.exact_value) == (mpmath.mpf("1.5"), mpmath.mpf("0.75"))
    assert sp.factor(first.difference) == sp.factor(P("3*x - 3*x**2"))


def test_seed_changes_the_random_points():
    a = list(zip(range(10), draw_points((x,), seed=0)))
    b = list(zip(range(10), draw_points((x,), seed=1)))
    assert a[:6] == b[:6]   # the small fractions come first, whatever the seed
    assert a[6:] != b[6:]


def test_evidence_points_stay_in_the_domain():
    # 1/x and 1/abs(x) agree where log(x) is real; the negative points must be rejected
    c = compare_expressions(P("1/abs(x)"), P("1/x"), domain=[P("log(x)")],
                            limits=Limits(simplify_seconds=0))
    assert c.status == "numerical" and c.points_tested > 24
    assert "x in [1.0e-6, 3000]" in c.method   # the witness search never left x > 0
    assert compare_expressions(P("1/abs(x)"), P("1/x")).status == "different"


def test_no_point_in_the_domain_is_a_domain_error():
    with pytest.raises(DomainError, match="found no point"):
        compare_expressions(P("1"), P("1 + 0*x"), domain=[P("sqrt(-1 - x**2)")], points=2)


def test_cancelling_expressions_are_not_mistaken_for_differences():
    # both sides are 0 but evaluate to rounding noise; noise is no evidence of a difference
    noisy = P("(exp(3*x) + 1)**2 - exp(6*x) - 2*exp(3*x) - 1")
    c = compare_expressions(noisy, sp.Integer(0), limits=Limits(simplify_seconds=0))
    assert c.status == "numerical"


def test_a_difference_far_below_the_values_is_still_seen():
    c = compare_expressions(P("exp(x) + 1e-45*exp(x)"), P("exp(x)"))
    assert c.status == "different"
    # below the requested 40 digits, but its ball excludes 0: a certified witness all the same
    below = compare_expressions(P("exp(x) + 1e-45*exp(x)"), P("exp(x)"), dps=40,
                                limits=Limits(simplify_seconds=0))
    assert below.status == "different" and below.counterexample == {"x": sp.Rational(1, 2)}
    assert abs(below.difference_value - mpmath.mpf("1e-45") * mpmath.exp(0.5)) < mpmath.mpf("1e-47")


def test_constants():
    assert compare_expressions(sp.Integer(2), sp.Integer(2)).status == "proved"
    c = compare_expressions(sp.Rational(22, 7), sp.pi)
    assert c.status == "different" and c.counterexample == {}


def test_kink_arguments_and_switch_free_values():
    args = kink_arguments([P("abs(x - 1) + max(x, y) + relu(2*y)")])
    assert {sp.Abs(a) for a in args} == {sp.Abs(x - 1), sp.Abs(x - y), sp.Abs(2 * y)}
    assert off_switches(sp.DiracDelta(x) + sp.Heaviside(x)) == sp.Heaviside(x)


def test_points_near_a_kink_are_not_used():
    # Heaviside(x - 1/2) vs its claim: the first small-fraction point x = 1/2 sits on the switch
    c = compare_expressions(P("(1 + abs(x - 0.5)/(x - 0.5))/2"), sp.Heaviside(x - sp.Rational(1, 2)))
    assert c.status == "proved"


def test_budget_exhausted_gives_numerical_and_kills_the_worker():
    c = compare_expressions(P("1/cosh(x)**2"), P("1 - tanh(x)**2"), limits=Limits(simplify_seconds=1e-3))
    assert c.status == "numerical" and "gave up after 0.001 s" in c.method
    assert multiprocessing.active_children() == []
    proved = compare_expressions(P("1/cosh(x)**2"), P("1 - tanh(x)**2"))
    assert proved.status == "proved" and proved.method == "cancel after rewrite(exp)"


def test_bad_arguments():
    with pytest.raises(DerivauditError, match="points"):
        compare_expressions(x, x, points=0)
    with pytest.raises(DerivauditError, match="sympy expression"):
        compare_expressions("x", x)


def test_removable_singularity_at_a_small_fraction_is_not_a_counterexample():
    # (x**2 - 1)/(x - 1) is undefined at x = 1, one of the first points tried
    c = compare_expressions(P("(x**2 - 1)/(x - 1)"), P("x + 1"), limits=Limits(simplify_seconds=0))
    assert c.status == "numerical" and c.points_tested > 24


def _compare_in_daemon(conn):
    c = compare_expressions(P("1/cosh(x)**2"), P("1 - tanh(x)**2"))
    conn.send((c.status, c.method))
    conn.close()


def test_inside_a_daemonic_worker_the_cheap_forms_run_in_process():
    # daemonic processes may not start children (e.g. multiprocessing.Pool workers)
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    worker = ctx.Process(target=_compare_in_daemon, args=(sender,), daemon=True)
    worker.start()
    assert receiver.poll(60)
    assert receiver.recv() == ("proved", "cancel after rewrite(exp)")
    worker.join()


def test_huge_expansions_are_not_attempted():
    from derivaudit.checks.proof import expanded_terms, safe_expand
    big = P("(x + y + 1)**300")
    assert expanded_terms(big) == 45451   # C(302, 2) monomials
    assert safe_expand(big) is big
    assert safe_expand(P("(x + 1)**2")) == P("x**2 + 2*x + 1")
    c = compare_expressions(P("(x + y + 1)**298"), P("(x + y + 1)**299"))
    assert c.status == "different"


def test_variables_positive_on_the_domain_are_used_in_the_proof():
    from derivaudit.checks.proof import positive_on_domain
    assert positive_on_domain([P("log(x) + sqrt(y) + z**2 + log(1 + w**2)")]) == [x, y]
    c = compare_expressions(P("1/abs(x)"), P("1/x"), domain=[P("log(x)")])
    assert c.status == "proved" and c.method == "expand, with x > 0 as on the domain"
