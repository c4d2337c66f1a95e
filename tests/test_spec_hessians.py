"""Specs with a [hessians] section: claimed Hessians of the loss judged beside the gradient claims."""

import tomllib
from pathlib import Path

import pytest

import derivaudit as da
from derivaudit.cli import main
from derivaudit.errors import SpecError
from derivaudit.verdicts import Verdict

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "numpy" / "logistic_newton.toml"
BASE = tomllib.loads(EXAMPLE.read_text())


def with_hessian(claim: str) -> dict:
    return {**BASE, "hessians": {"w": claim}}


def test_the_logistic_regression_newton_example_is_correct(capsys):
    r = da.audit(EXAMPLE)
    h = r.hessians[0]
    assert h.parameter == "w" and h.shape == (3, 3) and h.correct and h.wrong_entries == []
    assert h.verdict in (Verdict.PROVED, Verdict.NUMERICAL) and h.rel_difference < 1e-40
    assert r.ok and int(r.exit_code) == 0
    assert main(["audit", str(EXAMPLE)]) == 0
    assert "Hessian w (3x3): correct" in capsys.readouterr().out


def test_a_missing_regulariser_identity_is_named_on_the_diagonal():
    r = da.audit(with_hessian("X.T @ (X * (p * (1 - p))[:, None]) / N"))
    h = r.hessians[0]
    assert h.verdict is Verdict.WRONG and int(r.exit_code) == 1 and not r.ok
    assert h.wrong_entries == [(0, 0), (1, 1), (2, 2)]
    assert "c·I term" in h.diagnosis[0] and "-0.1·I" in h.diagnosis[0]
    assert set(h.counterexample) >= {"w[0]", "X[0,0]"}
    assert r["w"].correct                        # the gradient claim keeps its own verdict


def test_p_where_p_times_one_minus_p_belongs_is_wrong_everywhere():
    h = da.audit(with_hessian("X.T @ (X * p[:, None]) / N + lam * np.eye(d)")).hessians[0]
    assert len(h.wrong_entries) == 9 and h.verdict is Verdict.WRONG


def small(claim, loss="w[0] * w[1]**2"):
    return {"shapes": {"w": [2]}, "params": {"names": ["w"]}, "forward": {"loss": loss},
            "claims": {"w": "np.stack([w[1]**2, 2*w[0]*w[1]])" if loss == "w[0] * w[1]**2" else "2 * w"},
            "hessians": {"w": claim}, "audit": {"points": 2}}


def test_a_symmetric_but_wrong_claim_names_both_mixed_entries():
    h = da.audit(small("np.stack([np.stack([0*w[0], w[1]]), np.stack([w[1], 2*w[0]])])")).hessians[0]
    assert h.wrong_entries == [(0, 1), (1, 0)] and not any("not symmetric" in d for d in h.diagnosis)


def test_a_claim_that_is_not_symmetric_is_said_plainly():
    h = da.audit(small("np.stack([np.stack([0*w[0], 2*w[1]]), np.stack([w[1], 2*w[0]])])")).hessians[0]
    assert h.wrong_entries == [(1, 0)]
    assert "not symmetric" in h.diagnosis[0]


def test_a_correct_small_claim_is_proved():
    h = da.audit(small("np.stack([np.stack([0*w[0], 2*w[1]]), np.stack([2*w[1], 2*w[0]])])")).hessians[0]
    assert h.verdict is Verdict.PROVED and h.proved_entries == 4


def test_a_claim_of_the_wrong_shape_is_wrong_not_an_error():
    r = da.audit(with_hessian("lam * np.ones(d)"))
    h = r.hessians[0]
    assert h.verdict is Verdict.WRONG and h.wrong_description == "all (shape)"
    assert "the claim has shape (3,), but the Hessian of w (shape (3,)) is (3, 3)" in h.diagnosis[0]
    assert int(r.exit_code) == 1


def test_a_kink_in_the_loss():
    spec = small("2 * np.eye(2)", loss="np.sum(np.maximum(w, 0) ** 2)")
    h = da.audit(spec).hessians[0]
    assert h.verdict is Verdict.WRONG and set(h.wrong_entries) <= {(0, 0), (1, 1)} and h.wrong_entries
    witness = h.counterexample
    assert any(float(eval(witness[f"w[{i}]"])) < 0 for i in (0, 1))    # wrong where a w is negative


def test_hessians_of_unknown_parameters_or_names_are_one_clear_line():
    with pytest.raises(SpecError, match=r"\[hessians\] v.*not a parameter"):
        da.load_spec({**BASE, "hessians": {"v": "np.eye(3)"}})
    # an unknown name is that Hessian claim's own problem (issue 23): it loads, set aside with its line
    spec = da.load_spec(with_hessian("q * np.eye(3)"))
    assert spec.hessians == {} and spec.claimed("hessians") == ("w",)
    assert spec.malformed_in("hessians")["w"].message == "<spec>: [hessians] w: uses 'q', which is neither declared " \
                                                          "nor defined"


def test_a_matrix_parameter_takes_its_entries_in_c_order():
    spec = {"shapes": {"W": [2, 2]}, "params": {"names": ["W"]}, "forward": {"loss": "np.sum(W**3)"},
            "claims": {"W": "3 * W**2"}, "hessians": {"W": "np.diag(6 * W.reshape(4))"}, "audit": {"points": 2}}
    assert da.audit(spec).hessians[0].verdict is Verdict.PROVED
    spec["hessians"]["W"] = "np.diag(6 * W.T.reshape(4))"          # Fortran order: the middle entries swap
    assert da.audit(spec).hessians[0].wrong_entries == [(1, 1), (2, 2)]


def test_the_json_report_lists_the_hessians(capsys):
    import json
    assert main(["audit", str(EXAMPLE), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["hessians"][0]["parameter"] == "w" and doc["hessians"][0]["wrong_entries"] == []


def test_the_html_report_names_the_wrong_hessian(tmp_path):
    page = tmp_path / "a.html"
    assert main(["audit", str(EXAMPLE.with_name("logistic_newton_bug.toml")), "--html", str(page), "--quiet"]) == 1
    text = page.read_text()
    assert "1 of 1 claimed Hessians wrong: w." in text and "wrong entries 3 of 9: [0,0], [1,1], [2,2]" in text
