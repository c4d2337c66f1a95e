"""Issue 23: audits at real sizes — one reverse pass on balls, limits in work units, diagnoses at scale."""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp
from flint import arb

import derivaudit as da
from derivaudit.audits.diagnose import activation_call
from derivaudit.audits.graph import compile_outputs, forward_chain, model_graph
from derivaudit.audits.spec import build, load_spec
from derivaudit.core.balls import ball_precision, exact_ball
from derivaudit.core.reverse import ReverseGraph, graph_nodes, local_partials
from derivaudit.errors import LimitExceeded
from derivaudit.lang.arrays import entries
from derivaudit.limits import Limits
from derivaudit.verdicts import Verdict

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

TANH = {"shapes": {"X": [2, 3], "W": [2, 2], "b": [2, 1]}, "params": {"names": ["W", "b"]},
        "forward": {"Z": "W @ X + b", "A": "np.tanh(Z)", "loss": "sum(A**2) / 3"},
        "backward": {"dZ": "2 * A * (1 - A**2)"},
        "claims": {"W": "dZ @ X.T / 3", "b": "sum(dZ, axis=1, keepdims=True) / 3"},
        "audit": {"points": 2}}


def test_reverse_pass_encloses_the_symbolic_gradient():
    spec = load_spec(EXAMPLES / "mlp_2layer.toml")
    model = build(spec, symbolic_draws=True)
    inputs = model.symbols()
    point = [sp.Rational(k % 7 - 3, 5) for k in range(len(inputs))]
    engine = ReverseGraph(forward_chain(model), inputs, model.values["loss"])
    with ball_precision(300):
        state = engine.evaluate({s: exact_ball(v) for s, v in zip(inputs, point)})
        balls = [state.adjoint(s) for s in entries(model.param_symbols["W1"])]
    graph = model_graph(model, ["W1"])
    fn = compile_outputs(inputs, entries(graph.gradient["W1"]), graph.chain, "mpmath")
    with mpmath.workdps(80):
        values = fn(*[mpmath.mpf(v.p) / v.q for v in point])
        for ball, value in zip(balls, values):
            assert ball.rad() < 1e-70
            assert (ball - arb(mpmath.nstr(value, 80))).contains(0) or abs(ball.mid() - arb(str(value))) < 1e-75


def test_local_partials_are_shared_by_entries_built_alike():
    x = sp.symbols("x0:4", real=True)
    cache = {}
    for k in range(3):
        partials = local_partials(x[k] * sp.tanh(x[k + 1]), cache)
        assert partials[x[k]] == sp.tanh(x[k + 1])
    assert len(cache) == 1
    assert graph_nodes([x[0] * x[1], x[0] * x[1] + 1]) == 5


def test_numpy_spelling_of_activations_is_recognised():
    assert activation_call("np.tanh(Z1)") == ("tanh", "Z1")
    assert activation_call("numpy.exp(Z)") == ("exp", "Z")
    assert activation_call("np.tanh(Z1) + 1") == (None, "")
    spec = {**TANH, "claims": {"W": "2 * A * (A * (1 - A)) @ X.T / 3", "b": TANH["claims"]["b"]}}
    spec["forward"] = {**TANH["forward"], "A": "np.tanh(Z)"}
    spec["claims"]["W"] = "(2 * A * (A * (1 - A))) @ X.T / 3"
    result = da.audit(spec)
    assert result["W"].verdict == Verdict.WRONG
    assert any("sigmoid" in note for note in result["W"].diagnosis), result["W"].diagnosis


def test_graph_size_is_a_work_limit():
    with pytest.raises(LimitExceeded, match="max_graph_nodes"):
        da.audit(TANH, limits=Limits(max_graph_nodes=20))


def test_past_the_proof_budget_the_verdict_is_certified_numerically():
    result = da.audit(TANH, limits=Limits(max_proof_nodes=10))
    for c in result.claims:
        assert c.verdict == Verdict.NUMERICAL
        assert any("max_proof_nodes" in note for note in c.diagnosis)
    assert all(c.verdict == Verdict.PROVED for c in da.audit(TANH).claims)


def test_the_audit_guard_is_named_audit_seconds():
    with pytest.raises(LimitExceeded, match="audit_seconds"):
        da.audit(EXAMPLES / "mlp_2layer.toml", limits=Limits(audit_seconds=0.001))


def test_certified_relative_difference_and_float64_column():
    result = da.audit(TANH)
    for c in result.claims:
        low, high = c.rel_difference_certified
        assert low == 0 and high < 1e-45
        assert c.certified_rel_text().startswith("≤")
    head = result.summary().splitlines()[0]
    assert "rel.diff" in head and "float64 check" in head
    wrong = da.audit({**TANH, "claims": {**TANH["claims"], "b": "sum(dZ, axis=1, keepdims=True)"}})
    low, high = wrong["b"].rel_difference_certified
    assert low == pytest.approx(0.5, abs=1e-12) and high == pytest.approx(0.5, abs=1e-12)


def test_progress_counts_points_then_claims():
    seen = []
    da.audit(TANH, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (4, 4) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_constant_factor_carried_into_the_claims_names_the_intermediate():
    right = da.audit(TANH)
    (dz,) = right.backward
    assert dz.correct and dz.factor == 3 and "applied later" in dz.describe()
    # the 1/3 applied in b's claim and forgotten in W's: W's claim is the mistake, dZ a convention
    one = da.audit({**TANH, "claims": {"W": "dZ @ X.T", "b": "sum(dZ, axis=1, keepdims=True) / 3"}})
    assert one.backward[0].correct and one["W"].verdict == Verdict.WRONG
    # forgotten in every claim built on dZ: dZ is where the factor went wrong
    result = da.audit({**TANH, "claims": {"W": "dZ @ X.T", "b": "sum(dZ, axis=1, keepdims=True)"}})
    (dz,) = result.backward
    assert not dz.correct and dz.carried_into == ("W", "b")
    assert "never applied" in dz.describe() and "applied later" not in result.summary()
    assert "first wrong step: dZ" in result.summary()


def _small_network(plant: bool):
    import numpy as np
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 6))
    Y = np.eye(3)[:, rng.integers(0, 3, 6)]

    def f(W1, W2):
        E = np.exp(W2 @ np.tanh(W1 @ X))
        return -np.sum(Y * np.log(E / E.sum(axis=0, keepdims=True))) / 6

    def grad(W1, W2):
        A1 = np.tanh(W1 @ X)
        E = np.exp(W2 @ A1)
        dZ2 = (E / E.sum(axis=0, keepdims=True) - Y) / 6
        dW1 = (W2.T @ dZ2) * (1 - A1 ** 2) @ X.T
        if plant:
            dW1 = dW1.copy()
            dW1[2, 1] *= 1 + 1e-12  # far below float64 checks' resolution, certain at 50 digits
        return dW1, dZ2 @ A1.T

    return f, grad, (rng.standard_normal((5, 4)) * 0.3, rng.standard_normal((3, 5)) * 0.3)


def test_directions_on_balls_name_a_planted_wrong_entry():
    f, grad, theta = _small_network(plant=True)
    result = da.check_gradient(f, grad, theta, mode="directions", precision="mp")
    assert not result.ok and result.precision == "mp"
    assert "1 of 20 entries wrong" in result.summary() and "(2, 1)" in result.summary()
    f, grad, theta = _small_network(plant=False)
    right = da.check_gradient(f, grad, theta, mode="directions", precision="mp")
    assert right.ok and right.relative_difference < 1e-40


def test_entries_built_alike_are_proved_once_with_labels(monkeypatch):
    """The shipped MLP's 43 entries (labels one-hot) need far fewer proofs than entries: a proof
    serves every entry whose difference is its image under a group-preserving renaming."""
    from derivaudit.audits import proof

    calls = []
    real = proof.proved_for_every_label
    monkeypatch.setattr(proof, "proved_for_every_label", lambda d, g: calls.append(d) or real(d, g))
    result = da.audit(EXAMPLES / "mlp_2layer.toml")
    assert [str(c.verdict) for c in result.claims] == ["correct (proved)"] * 4
    assert 4 <= len(calls) <= 12, len(calls)


def test_a_claim_explained_by_a_factor_rebuilds_no_what_if_model(monkeypatch):
    """A claim that is k × the gradient is explained: no activation-swapped model is built for it
    (each is a whole new graph, most of a wrong large audit's time); a claim it does not explain is
    still given the swap diagnosis."""
    from derivaudit.audits import diagnose

    built = []
    monkeypatch.setitem(diagnose.WHAT_IF_DIAGNOSES, "activation swap",
                        lambda *a, **k: built.append(a[1]) or diagnose.activation_notes(*a, **k))
    halved = da.audit({**TANH, "claims": {**TANH["claims"], "W": "dZ @ X.T / 6"}})
    assert str(halved["W"].verdict) == "wrong" and "every entry is 1/2 × the gradient" in " ".join(halved["W"].diagnosis)
    assert built == []
    swapped = da.audit({**TANH, "backward": {"dZ": "2 * A * A * (1 - A)"}})
    assert str(swapped["W"].verdict) == "wrong" and built and built[0] == "W"


def test_applied_later_is_said_only_where_it_is():
    """dZ = 3·∂loss/∂Z (the 1/3 of the loss left for later); b applies it, W's claim forgets it."""
    result = da.audit({**TANH, "backward": {"dZ": "2 * A * (1 - A**2)"},
                       "claims": {"W": "dZ @ X.T", "b": "sum(dZ, axis=1, keepdims=True) / 3"}})
    assert [str(c.verdict) for c in result.claims][:1] == ["wrong"]
    assert "dZ = 3·∂loss/∂Z: the 1/3 is applied later in b, not in W" in result.summary()
