"""Issue 22 items 8–10: an audit's "proved" holds for all data, evidence inside switching bands.

A proof that substitutes one draw of the data proves nothing about the others:
random data stay symbols, and one-hot labels are covered pattern by pattern.
"""

import copy

import pytest

import derivaudit as da
from derivaudit.verdicts import Verdict

RANDOM_X = {  # the claim is right only where x <= 0.95
    "shapes": {"x": [3, 1], "w": [3, 1]},
    "params": {"names": ["w"]},
    "data": {"x": "random"},
    "forward": {"loss": "sum(w * x)"},
    "claims": {"w": "x + (x > 0.95) * x"},
    "audit": {"points": 3},
}

SOFTMAX = {  # sample 0's gradient is dropped when its label is class 2
    "shapes": {"X": [2, 3], "Y": [3, 3], "W": [3, 2]},
    "params": {"names": ["W"]},
    "data": {"Y": "onehot(axis=0)"},
    "forward": {"Z": "W @ X", "loss": "-sum(Y * log_softmax(Z, axis=0)) / 3"},
    "backward": {"keep": "1 - Y[2:3, 0:1] * ((arange(3) == 0).reshape(1, 3))"},
    "claims": {"W": "((softmax(Z, axis=0) - Y) * (1 - Y[2, 0] * (arange(3) == 0))) @ X.T / 3"},
    "audit": {"points": 2},
}


@pytest.mark.parametrize("seed", range(4))
def test_item8_random_data_are_symbols_in_the_proof(seed):
    result = da.audit(RANDOM_X, seed=seed)
    assert result["w"].verdict != Verdict.PROVED


def _softmax_spec():
    spec = copy.deepcopy(SOFTMAX)
    del spec["backward"]
    # written without arange: the mask is 1 except in column 0 when Y[2,0] is 1
    spec["claims"]["W"] = ("((softmax(Z, axis=0) - Y) - (softmax(Z, axis=0) - Y) * Y[2:3, :] * M) @ X.T / 3")
    spec["shapes"]["M"] = [1, 3]
    spec["data"]["M"] = [[1, 0, 0]]
    return spec


@pytest.mark.parametrize("seed", range(4))
def test_item8_a_label_dependent_bug_is_never_proved(seed):
    result = da.audit(_softmax_spec(), seed=seed)
    assert result["W"].verdict != Verdict.PROVED


def test_item8_a_right_claim_is_proved_for_every_label_pattern():
    spec = _softmax_spec()
    spec["claims"]["W"] = "(softmax(Z, axis=0) - Y) @ X.T / 3"
    assert da.audit(spec)["W"].verdict == Verdict.PROVED


def test_label_pattern_cover_unit():
    import sympy as sp
    from derivaudit.audits.proof import proved_for_every_label
    a, y0, y1, y2, z0, z1, z2 = sp.symbols("a y0 y1 y2 z0 z1 z2")
    groups = [[y0, y1, y2], [z0, z1, z2]]
    assert proved_for_every_label(a * (y0 + y1 + y2) - a, groups)
    assert proved_for_every_label(a * y0 * y1, groups)            # two classes of one sample: never both
    assert proved_for_every_label(a * (y0 ** 2 - y0), groups)     # a label is 0 or 1
    assert not proved_for_every_label(a * y2, groups)             # non-zero when sample 0 is class 2
    assert not proved_for_every_label(a * y0 * z1, groups)        # samples are independent


RELU_MASK = {  # the mask is written z > -0.02 instead of z > 0: wrong only in a band by the kink
    "shapes": {"X": [3, 4], "V": [2, 4], "W": [2, 3], "b": [2, 1]},
    "params": {"names": ["W", "b"]},
    "forward": {"z": "W @ X + b", "a": "relu(z)", "loss": "sum(a * V)"},
    "backward": {"dz": "V * (z > -0.02)"},
    "claims": {"W": "dz @ X.T", "b": "sum(dz, axis=1, keepdims=True)"},
    "audit": {"points": 4},
}


@pytest.mark.parametrize("seed", range(3))
def test_item9_a_bug_inside_the_band_by_a_kink_is_found(seed):
    result = da.audit(RELU_MASK, seed=seed)
    assert result["b"].verdict == Verdict.WRONG


@pytest.mark.parametrize("seed", range(3))
def test_item9_band_points_never_make_a_right_claim_wrong(seed):
    right = copy.deepcopy(RELU_MASK)
    right["backward"]["dz"] = "V * (z > 0)"
    result = da.audit(right, seed=seed)
    assert all(c.correct for c in result.claims)
