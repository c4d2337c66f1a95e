"""Audit evidence points keep clear of the model's switching points (issue 14, item 3).

Before: the dropout example's first evidence point lay within 1e-2 of a relu
kink, and its centered difference at h = 1e-2 was 2.5e-2 away from the
correct claim (at the other steps 1e-68); the audit printed "correct" beside
evidence that contradicted it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

import derivaudit as da
from derivaudit.audits.audit import audit_settings
from derivaudit.audits.data import draw_data
from derivaudit.audits.graph import model_graph
from derivaudit.audits.judge import NEAR_SWITCH_NOTE
from derivaudit.audits.spec import build, load_spec
from derivaudit.audits.switching import SwitchingGuard, largest_step
from derivaudit.limits import DEFAULT_LIMITS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: correct specs whose loss is piecewise quadratic in every claimed parameter: away from a switch
#: the centered differences are exact, so every step's relative difference is at the rounding level
PIECEWISE_QUADRATIC = ["relu_layer.toml", "numpy/dropout.toml", "numpy/svm_multiclass.toml"]


@pytest.mark.parametrize("name", PIECEWISE_QUADRATIC)
def test_finite_differences_never_step_across_a_kink(name):
    result = da.audit(str(EXAMPLES / name))
    for c in result.claims:
        assert c.correct
        assert max(c.rel_by_step) < 1e-60, (c.parameter, c.rel_by_step)
        assert c.evidence_notes == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dropout_evidence_is_exact_for_other_seeds(seed):
    claim = da.audit(str(EXAMPLES / "numpy" / "dropout.toml"), seed=seed)["W"]
    assert max(claim.rel_by_step) < 1e-60


def _guard(spec_dict):
    spec = load_spec(spec_dict)
    model = build(spec, symbolic_draws=True)
    return SwitchingGuard(model, model_graph(model), model.symbols(), spec.settings), model


RELU_SPEC = {
    "shapes": {"W": [1, 1]}, "params": {"names": ["W"]},
    "forward": {"h": "np.maximum(0, W)", "loss": "np.sum(h**2)"},
    "backward": {"dh": "2 * h * (h > 0)"}, "claims": {"W": "dh"},
}


def test_a_switching_function_zero_on_a_whole_region_is_no_switch():
    # h = max(0, W) is exactly 0 wherever W < 0, and (h > 0) constant there: a point 0.5 below
    # the kink is clear although one of its switching functions is 0 on the whole box
    guard, _ = _guard(RELU_SPEC)
    # the layer symbol h stands for max(0, W): the guard evaluates the layers as balls
    assert set(map(str, guard.functions)) == {"W[0,0]", "h[0,0]"}
    assert guard.straddled([sp.Rational(-1, 2)]) == 0
    assert guard.straddled([sp.Rational(1, 2)]) == 0
    # within h = 1e-2 of the kink: both W and max(0, W) may switch inside the box
    assert largest_step(load_spec(RELU_SPEC).settings) == sp.Rational(1, 100)
    assert guard.straddled([sp.Rational(1, 200)]) == 2
    assert guard.straddled([sp.Rational(-1, 200)]) == 2


def test_only_claimed_parameters_are_widened():
    # the kink is in the data X: perturbing W never crosses it, whatever X is
    spec = {"shapes": {"W": [1, 1], "X": [1, 1]}, "params": {"names": ["W"]},
            "forward": {"loss": "np.sum(W**2 * np.abs(X))"}, "claims": {"W": "2 * W * np.abs(X)"}}
    guard, _ = _guard(spec)
    assert guard.active
    assert guard.straddled([sp.Rational(1, 3), sp.Rational(0)]) == 0


def test_every_evidence_point_is_clear_in_the_numpy_examples():
    from derivaudit.audits.graph import compile_outputs
    from derivaudit.audits.points import Outputs, defined_points
    from derivaudit.lang.arrays import entries

    checked = 0
    for path in sorted((EXAMPLES / "numpy").glob("*.toml")):
        spec = load_spec(str(path))
        settings = audit_settings(spec.settings, DEFAULT_LIMITS)
        model = build(spec, symbolic_draws=True)
        graph = model_graph(model)
        guard = SwitchingGuard(model, graph, model.symbols(), settings)
        if not guard.active:
            continue
        outputs = Outputs()
        for p in spec.claims:
            outputs.add(f"exact:{p}", entries(graph.gradient[p]))
        function = compile_outputs(model.symbols(), outputs.exprs, graph.chain, "mpmath")
        values = defined_points(function, model.symbols(), outputs, settings, list(outputs.slots),
                                draw_data(spec, settings.points, seed=settings.seed), guard.straddled)
        assert values.near_switch == []
        assert all(guard.straddled(point) == 0 for point in values.points), path.name
        checked += 1
    assert checked >= 8


def test_no_clear_point_falls_back_with_a_note(tmp_path):
    # every candidate in [-1e-3, 1e-3] is within h = 1e-2 of relu's kink: the audit still
    # gives its verdict, and says the finite differences are no evidence there
    spec = {"shapes": {"W": [1, 2]}, "params": {"names": ["W"]},
            "forward": {"loss": "sum(relu(W)**2)"}, "claims": {"W": "2*relu(W)"},
            "audit": {"range": [-0.001, 0.001]}}
    result = da.audit(spec)
    claim = result["W"]
    assert claim.correct
    assert claim.evidence_notes == [NEAR_SWITCH_NOTE]
    assert NEAR_SWITCH_NOTE in result.summary()
    wrong = da.audit({**spec, "claims": {"W": "3*relu(W)"}})["W"]
    assert str(wrong.verdict) == "wrong"
