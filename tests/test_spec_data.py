"""[data]: literals, kinds, and data drawn afresh at every evidence point (issue 13 item 4)."""

import copy

import pytest
import sympy as sp

import derivaudit as da
from derivaudit.audits.spec import build, draw_data, load_spec
from derivaudit.errors import SpecError
from derivaudit.lang.arrays import entries

# a class-weighted cross-entropy over 4 classes and 2 examples: one draw of labels
# may lack the weighted class, so evidence needs fresh labels at every point
WEIGHTED = {
    "shapes": {"Y": [4, 2], "Z": [4, 2]},
    "params": {"names": ["Z"]},
    "data": {"Y": "onehot(axis=0)", "w": [[1], [1], [1], [5]]},
    "forward": {"loss": "-sum(w * Y * log_softmax(Z, axis=0))"},
    "claims": {"Z": "softmax(Z, axis=0) - Y"},   # forgets the class weight
}


def test_every_class_appears_across_the_points():
    spec = load_spec(WEIGHTED)
    for seed in range(20):
        draws = draw_data(spec, points=3, seed=seed)
        hot = {int(s.name[2]) for d in draws for s, v in d.items() if v == 1}
        assert hot == {0, 1, 2, 3}
        for d in draws:  # one 1 per column at every point
            for col in (0, 1):
                assert sum(v for s, v in d.items() if s.name.endswith(f",{col}]")) == 1


def test_seed_argument_and_audit_seed_are_the_same_seed():
    spec = load_spec(WEIGHTED)
    seeded = load_spec({**WEIGHTED, "audit": {"seed": 5}})
    assert draw_data(spec, 3, seed=5) == draw_data(seeded, 3) == draw_data(seeded, 3, seed=5)
    assert draw_data(spec, 3, seed=5) != draw_data(spec, 3, seed=6)


def test_random_data_are_drawn_at_every_point_within_the_range():
    spec = load_spec({**copy.deepcopy(WEIGHTED), "data": {"Y": "random", "w": [[1], [1], [1], [5]]},
                      "audit": {"range": [2, 3]}})
    draws = draw_data(spec, 4)
    assert len({tuple(d.values()) for d in draws}) == 4
    assert all(2 <= v <= 3 and v.q <= 10**6 for d in draws for v in d.values())


def test_build_keeps_drawn_data_symbolic_on_request():
    spec = load_spec(WEIGHTED)
    symbolic = build(spec, symbolic_draws=True)
    assert [s.name for s in entries(symbolic.data_symbols["Y"])][:2] == ["Y[0,0]", "Y[0,1]"]
    fixed = build(spec)
    assert "Y" not in fixed.data_symbols
    first = draw_data(spec, 1)[0]
    assert [first[s] for s in entries(symbolic.data_symbols["Y"])] == entries(fixed.values["Y"])


@pytest.mark.parametrize("data, expected", [
    ({"y": [0, 2, 1, 1, 0]}, (5,)),
    ({"reg": 0.1}, ()),
    ({"M": [[1, 2], [3, 4], [5, 6]]}, (3, 2)),
])
def test_literals_need_no_shape(data, expected):
    spec = load_spec({"shapes": {"W": [2]}, "params": {"names": ["W"]}, "data": data,
                      "forward": {"loss": "sum(W**2)"}, "claims": {"W": "2*W"}})
    (name, value), = spec.data.items()
    assert getattr(value, "shape", ()) == expected
    assert all(isinstance(v, sp.Rational) for v in entries(value))
    if name == "reg":
        assert value == sp.Rational(1, 10)


@pytest.mark.parametrize("data, message", [
    ({"M": [[1, 2], [3]]}, "[data] M: nested lists must be rectangular"),
    ({"M": [1, float("inf")]}, "[data] M: data values must be finite"),
    ({"M": [1, "a"]}, "[data] M: data values are numbers"),
    ({"Y": "random"}, "[data] Y: 'Y' is not declared in [shapes]; a kind such as 'random' needs a shape"),
    ({"exp": 1}, "'exp' is the name of a function or constant"),
])
def test_bad_literals(data, message):
    with pytest.raises(SpecError) as info:
        load_spec({"shapes": {"W": [2]}, "params": {"names": ["W"]}, "data": data,
                   "forward": {"loss": "sum(W**2)"}, "claims": {"W": "2*W"}})
    assert message in str(info.value)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_forgotten_class_weight_is_wrong_for_every_seed(seed):
    assert da.audit(WEIGHTED, seed=seed)["Z"].verdict == "wrong"
    assert da.audit({**WEIGHTED, "audit": {"seed": seed}})["Z"].verdict == "wrong"


def test_the_model_lists_its_switching_points():
    spec = load_spec({"shapes": {"z": [2], "W": [2]}, "params": {"names": ["W"]},
                      "forward": {"h": "np.maximum(0, W * z)", "loss": "np.sum(h * (z > 1))"},
                      "claims": {"W": "z * (h > 0) * (z > 1)"}})
    model = build(spec)
    found = {str(g) for g in model.switching_functions()}
    # relu's kink at W*z = 0 (forward, and the claim's step of h), the comparison z > 1
    assert {"W[0]*z[0]", "z[0] - 1", "W[1]*z[1]", "z[1] - 1"} <= found
    assert all(g.free_symbols for g in model.switching_functions())
