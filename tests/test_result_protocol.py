"""Every result type follows the one protocol of derivaudit.results.

verdict in the one vocabulary, ok ⇔ exit_code 0, exit_code read from the
verdict, summary() text, to_json() a derivaudit-report document, a notebook
view, and CSV/HTML report files — for a study, a sweep, a check, an audit,
gradient checks (of a function, of a layer, of a Jacobian, in float64 and
in mp).  Plus the regressions of issue 21: a band word never contradicts
``ok``, a wrong claim at a kink is wrong, and no "constant factor 1".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import derivaudit as da
from derivaudit.results import VOCABULARY, Result, exit_code_of
from derivaudit.verdicts import GRADIENT_WORDS, ExitCode, Verdict

ROOT = Path(__file__).resolve().parent.parent


def _layer_forward(x, w):
    out = np.tanh(x @ w)
    return out, (x, w, out)


def _layer_backward(dout, cache):
    x, w, out = cache
    dz = dout * (1 - out ** 2)
    return dz @ w.T, x.T @ dz


def _results() -> dict[str, Result]:
    rng = np.random.default_rng(0)
    theta = rng.normal(size=3)
    mine = da.custom_stencil([0, 1, 2], ["-3/2", 2, "1/2"], name="typo")  # wrong weights
    studies = [da.study("exp(x)", at={"x": "0.5"}, eps="1e-1:1e-3:3", schemes=["centered"], dps=20),
               da.study("exp(x)", at={"x": 0}, eps="1e-2:1e-3:2", schemes=["centered", mine], dps=20)]
    return {
        "study": studies[0],
        "study float64": da.study("sin(x)", at={"x": 1}, eps="1e-1:1e-6:6", schemes=["centered"],
                                  precision="float64"),
        "study wrong stencil": studies[1],
        "sweep": da.SweepResult(tuple(studies), source="two studies"),
        "check proved": da.check("x**3", wrt="x", claim="3*x**2"),
        "check wrong": da.check("x**3", wrt="x", claim="3*x"),
        "check gradient": da.check("x*y", grad="x,y", claim="y, x"),
        "audit": da.audit(ROOT / "examples" / "logistic_regression.toml"),
        "gradient": da.check_gradient(lambda t: float(np.sum(np.sin(t))), np.cos, theta),
        "gradient wrong": da.check_gradient(lambda t: float(np.sum(t ** 2)), lambda t: 3 * t, theta),
        "gradient mp": da.check_gradient(lambda t: np.sum(t ** 2), lambda t: 2 * t, theta, precision="mp", dps=30),
        "layer": da.check_layer(_layer_forward, _layer_backward, rng.normal(size=(2, 3)), rng.normal(size=(3, 2))),
        "jacobian": da.check_jacobian(np.tanh, lambda x: np.diag(1 - np.tanh(x) ** 2), theta),
    }


@pytest.fixture(scope="module")
def results():
    return _results()


NAMES = ["study", "study float64", "study wrong stencil", "sweep", "check proved", "check wrong",
         "check gradient", "audit", "gradient", "gradient wrong", "gradient mp", "layer", "jacobian"]


def test_every_result_type_is_covered(results):
    assert sorted(results) == sorted(NAMES)
    kinds = {type(r).__name__ for r in results.values()}
    assert kinds == {"StudyResult", "SweepResult", "CheckResult", "AuditResult", "GradientCheckResult"}


@pytest.mark.parametrize("name", NAMES)
def test_the_protocol_holds(results, name, tmp_path):
    result = results[name]
    assert isinstance(result, Result)
    assert result.verdict in VOCABULARY
    assert isinstance(result.exit_code, ExitCode)
    assert result.exit_code is exit_code_of(result.verdict)  # one field decides both
    assert result.ok is (result.exit_code is ExitCode.OK)
    text = result.summary()
    assert isinstance(text, str) and text.strip()
    document = json.loads(result.to_json())
    assert document["schema"] == "derivaudit-report/1"
    assert document["verdict"] == str(result.verdict) and document["exit_code"] == int(result.exit_code)
    assert document["kind"] in ("study", "check", "audit", "gradient", "sweep")
    html = result._repr_html_()
    assert isinstance(html, str) and html.startswith('<div class="derivaudit-report">')
    page = result.write_html(tmp_path / "report.html")
    assert page.read_text().startswith("<!DOCTYPE html>")
    if result.verdict is not Verdict.MEASURED:  # a study without a claim heads its page with its orders
        assert str(result.verdict) in page.read_text()
    csv = result.write_csv(tmp_path / "report.csv")
    assert len(pd.read_csv(csv)) > 0
    folder = result.write_csv(tmp_path / "folder/")
    assert (folder / "summary.csv").exists()


def test_expected_verdicts(results):
    assert results["study"].verdict is Verdict.MEASURED and results["study"].ok
    assert results["study wrong stencil"].verdict is Verdict.WRONG
    assert results["study wrong stencil"].exit_code is ExitCode.WRONG
    assert results["sweep"].verdict is Verdict.WRONG and not results["sweep"].ok
    assert results["check proved"].verdict is Verdict.PROVED and results["check proved"].ok
    assert results["check wrong"].verdict is Verdict.WRONG and results["check wrong"].exit_code == 1
    assert results["audit"].ok and results["audit"].verdict.correct
    assert results["gradient"].verdict in GRADIENT_WORDS[:2] and results["gradient"].ok
    assert results["gradient wrong"].verdict == "bug" and results["gradient wrong"].exit_code is ExitCode.WRONG
    assert results["gradient mp"].verdict == "fine" and results["gradient mp"].ok
    assert results["layer"].ok and results["jacobian"].ok


def test_a_study_table_is_reached_through_table_only(results):
    result = results["study"]
    assert isinstance(result.table, pd.DataFrame) and not isinstance(result, pd.DataFrame)
    copy = result.table.copy()[1:]  # the metadata does not live on the table: nothing to lose
    assert result.formula == "exp(x)" and result.point == {"x": "1/2"} and result.dps == 20
    assert list(copy.columns) == list(result.table.columns)


def test_an_mp_check_with_a_wrong_entry_never_reads_fine():
    # off by 1e-12 relative: tiny overall, but certified wrong at 30 digits in every entry
    theta = np.array([0.5, -1.25, 2.0])
    result = da.check_gradient(lambda t: np.sum(t ** 2), lambda t: 2 * t * (1 + 1e-12), theta,
                               precision="mp", dps=30)
    assert result.relative_difference < 1e-11 and len(result.wrong) == 3
    assert not result.ok and result.verdict == "look again" and result.exit_code is ExitCode.WRONG
    # the factor is named with the digits that tell it from 1, never as "a constant factor 1"
    assert "off by a constant factor 1.000000000001 at all entries" in result.cause
    assert "every entry is 1 ×" not in result.cause and "constant factor 1 " not in result.cause


def test_a_wrong_claim_at_a_kink_is_wrong():
    result = da.check("abs(x)", wrt="x", claim="1", at={"x": 0})
    assert result.verdict is Verdict.WRONG and result.exit_code is ExitCode.WRONG and not result.ok


def test_no_report_for_a_bare_table(results):
    with pytest.raises(TypeError, match="pass the StudyResult"):
        da.write_html(results["study"].table, "never.html")
