"""Backprop audits: verdicts, evidence and the diagnosis of each bug class."""

import copy
import math
from pathlib import Path

import pytest

import derivaudit as da
from derivaudit.audits.results import describe_entries, verdict_of
from derivaudit.cli import main
from derivaudit.verdicts import Verdict

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

LAYER = {  # a tanh layer with a mean squared error: 2 inputs, 2 outputs, batch of 3
    "shapes": {"X": [2, 3], "Y": [2, 3], "W": [2, 2], "V": [2, 2], "b": [2, 1], "M": [2, 1]},
    "params": {"names": ["W", "b", "V"]},
    "data": {"M": [[1], [0]]},
    "forward": {"Z": "W @ X + V @ X**2 + b", "A": "tanh(Z)", "loss": "sum((A - Y)**2) / 3"},
    "backward": {"dZ": "2 * (A - Y) * (1 - A**2)"},
    "claims": {"W": "dZ @ X.T / 3", "b": "sum(dZ, axis=1, keepdims=True) / 3", "V": "dZ @ (X**2).T / 3"},
    "audit": {"points": 2},
}


def layer(**claims):
    spec = copy.deepcopy(LAYER)
    spec["claims"].update(claims)
    return spec


@pytest.fixture(scope="module")
def right():
    return da.audit(LAYER)


def test_right_claims_are_proved_with_second_order_evidence(right):
    assert right.ok
    for c in right.claims:
        assert c.verdict == "correct (proved)"
        assert c.proved_entries == c.entries and not c.wrong_entries
        assert c.order == pytest.approx(2.0, abs=0.05)   # centered differences: error O(h²)
        assert c.fd_order == pytest.approx(2.0, abs=0.05)
        assert c.rel_difference_float64 < 1e-7 and c.grade == "fine"
        assert c.rel_by_step[0] > c.rel_by_step[-1] * 1e3
    assert [(b.name, str(b.factor)) for b in right.backward] == [("dZ", "3")]


def test_missing_one_over_m_is_a_constant_factor():
    result = da.audit(layer(b="sum(dZ, axis=1, keepdims=True)"))
    b = result["b"]
    assert not result.ok and b.verdict == "wrong" and b.verdict is Verdict.WRONG
    assert b.wrong_description == "all 2"
    assert "every entry is 3 × the gradient: a missing factor 1/3 (a missing 1/m?)" in b.diagnosis
    assert b.order == pytest.approx(0, abs=0.05) and b.grade == "bug"
    assert b.difference.startswith("claim - exact for b[0,0] = ")
    assert result["W"].correct and result["V"].correct   # one wrong claim hides no other verdict


def test_transposed_square_gradient():
    result = da.audit(layer(W="(dZ @ X.T / 3).T"))
    w = result["W"]
    assert "the claim is the transpose of the gradient" in w.diagnosis
    assert set(w.wrong_entries) == {(0, 1), (1, 0)}    # the diagonal of a transpose is right
    assert w.wrong_description == "2 of 4: [0,1], [1,0]"


def test_transposed_shape_and_missing_keepdims():
    spec = layer()
    spec["shapes"]["W"] = [2, 3]
    spec["shapes"]["X"] = [3, 3]
    spec["shapes"]["V"] = [2, 3]
    spec["claims"].update(W="X @ dZ.T / 3", b="sum(dZ, axis=1) / 3")
    result = da.audit(spec)
    w, b = result["W"], result["b"]
    assert w.claim_shape == (3, 2) and w.verdict == "wrong"
    assert w.diagnosis[0].startswith("the claim has shape (3, 2), the transpose of W's (2, 3); "
                                     "transposed back it equals the gradient")
    assert b.claim_shape == (2,) and b.verdict == "wrong"
    assert ("missing keepdims=True); b - lr*db would broadcast to (2, 2); the values themselves are right"
            in b.diagnosis[0])


def test_wrong_activation_derivative_and_wrong_rows():
    result = da.audit(layer(W="2 * (A - Y) * A * (1 - A) @ X.T / 3", b="sum(dZ, axis=1, keepdims=True) / 3 + M"))
    w, b = result["W"], result["b"]
    assert any("if A = sigmoid(Z) instead of tanh(Z): it uses sigmoid's derivative" in d for d in w.diagnosis)
    assert w.wrong_description == "all 4"
    assert b.wrong_entries == [(0, 0)] and b.wrong_description == "row 0"
    assert b.counterexample and b.difference == "claim - exact for b[0,0] = 1"


def test_wrong_backward_step_is_located():
    spec = layer()
    spec["backward"]["dZ"] = "2 * (A - Y) * (1 + A**2)"
    result = da.audit(spec)
    assert [c.correct for c in result.claims] == [False, False, False]
    assert not result.backward[0].correct and result.backward[0].wrong_entries == "all 6"
    assert "first wrong step: dZ is not ∂loss/∂Z" in result.summary()


def test_describe_entries():
    assert describe_entries([(1, 0), (1, 1), (1, 2)], (3, 3)) == "row 1"
    assert describe_entries([(0, 2), (1, 2)], (2, 3)) == "column 2"
    assert describe_entries([(0, 0)], (1, 1)) == "the value"
    assert describe_entries([(i, 0) for i in range(8)], (9, 9)).endswith(", ...")


@pytest.fixture(scope="module")
def buggy():
    return da.audit(EXAMPLES / "mlp_2layer_buggy.toml")


def test_buggy_mlp_every_planted_bug_named(buggy):
    assert not buggy.ok and [c.verdict for c in buggy.claims] == ["wrong"] * 4
    assert "transpose of W2's (3, 5)" in buggy["W2"].diagnosis[0]
    assert "every entry is 8 × the gradient: a missing factor 1/8 (a missing 1/m?)" in buggy["b2"].diagnosis
    assert any("sigmoid's derivative where tanh's belongs" in d for d in buggy["W1"].diagnosis)
    assert buggy["W1"].wrong_description == "all 20"
    assert "missing keepdims=True); b1 - lr*db1 would broadcast to (5, 5)" in buggy["b1"].diagnosis[0]
    assert [(b.name, b.correct) for b in buggy.backward] == [("dZ2", True), ("dZ1", False)]
    for c in buggy.claims:
        assert c.grade == "bug"


@pytest.mark.parametrize("name, statuses", [
    ("mlp_2layer", ["proved"] * 4),
    ("softmax_xent_logits", ["proved", "proved"]),
    ("logistic_regression", ["numerical", "numerical"]),
    ("relu_layer", ["numerical", "numerical"]),
    ("batchnorm", ["proved", "proved", "numerical"]),
])
def test_correct_examples(name, statuses):
    result = da.audit(EXAMPLES / f"{name}.toml")
    assert result.ok and [c.verdict for c in result.claims] == [verdict_of(s) for s in statuses]
    for c in result.claims:
        assert c.grade == "fine"
        assert math.isnan(c.order) or c.order == pytest.approx(2.0, abs=0.1)
    if name == "mlp_2layer":  # issue 13 item 5: the constant of an intermediate is reported
        dz2 = next(b for b in result.backward if b.name == "dZ2")
        assert dz2.describe() == "dZ2 = 8·∂loss/∂Z2: the 1/8 is applied later"


def test_cli_exit_codes(tmp_path, capsys):
    assert main(["audit", str(EXAMPLES / "softmax_xent_logits.toml"), "--quiet"]) == 0
    spec = tmp_path / "wrong.toml"
    text = (EXAMPLES / "softmax_xent_logits.toml").read_text().replace('b = "sum(dZ, axis=1, keepdims=True) / 5"',
                                                                       'b = "sum(dZ, axis=1, keepdims=True)"')
    spec.write_text(text)
    assert main(["audit", str(spec), "--points", "1"]) == 1
    out = capsys.readouterr().out
    assert "b      3x1    wrong" in out and "1 of 2 claims correct; wrong: b" in out
    spec.write_text(text.replace('W = "dZ @ X.T / 5"', 'W = "dZ @ X / 5"'))
    assert main(["audit", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[claims] W" in err and "'@' of shapes (3, 5) and (4, 5)" in err
    assert main(["audit", str(tmp_path / "none.toml")]) == 2


def test_a_claim_undefined_at_the_points_is_wrong_and_hides_nothing():
    spec = {"shapes": {"W": [1, 2], "V": [2, 1]}, "params": {"names": ["W", "V"]},
            "forward": {"loss": "sum(W**2) + sum(V**3)"},
            "claims": {"W": "log(-abs(W) - 1)", "V": "3*V**2"}, "audit": {"points": 1}}
    result = da.audit(spec)
    assert result["W"].verdict == "wrong" and result["W"].wrong_description == "all 2"
    assert result["V"].verdict is Verdict.PROVED
    assert "claim nan" in result["W"].diagnosis[-1]


def test_a_hostile_spec_is_refused_within_the_limits(tmp_path, capsys):
    spec = tmp_path / "hostile.toml"
    spec.write_text('[shapes]\nW = [2, 2]\n[params]\nnames = ["W"]\n[forward]\n'
                    'loss = "sum(exp(exp(exp(exp(exp(W * 9))))))"\n[claims]\nW = "W"\n')
    assert main(["audit", str(spec)]) == 2
    assert "limit Limits.max_value_digits" in capsys.readouterr().err


def test_missing_keepdims_that_broadcasts_silently():
    # square blocks: mean(G, axis=1) has shape (3,) and broadcasts as a row, without a shape error
    spec = {"shapes": {"X": [3, 3], "G": [3, 3], "W": [3, 3]}, "params": {"names": ["W"]},
            "forward": {"Z": "W @ X", "C": "Z - mean(Z, axis=1, keepdims=True)", "loss": "sum(G * C)"},
            "backward": {"dZ": "G - mean(G, axis=1)"},
            "claims": {"W": "dZ @ X.T"}, "audit": {"points": 1}}
    w = da.audit(spec)["W"]
    assert w.verdict == "wrong" and w.wrong_description == "all 9"
    assert any("lost it and broadcast as a row (missing keepdims=True)" in d for d in w.diagnosis)
    spec["backward"]["dZ"] = "G - mean(G, axis=1, keepdims=True)"
    assert da.audit(spec).ok


def test_progress_callback_counts_every_claim():
    calls = []
    da.audit(EXAMPLES / "logistic_regression.toml", progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] and [d for d, _ in calls] == list(range(1, len(calls) + 1))


def test_docs_example_lines_appear_in_the_summary(buggy):
    text = (EXAMPLES.parent / "docs" / "audit.md").read_text()
    block = text.split("$ derivaudit audit examples/mlp_2layer_buggy.toml\n", 1)[1].split("```", 1)[0]
    summary = buggy.summary()
    for line in block.splitlines():
        if line.strip() and line.strip() != "...":
            assert line in summary, line
