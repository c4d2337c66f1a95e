"""CSV and HTML reports of check results (claimed derivatives and gradients)."""

import mpmath
import pandas as pd
import pytest

import derivaudit as da
from derivaudit.checks.check import check
from derivaudit.cli import main

from test_report import parse, written_page


@pytest.fixture(scope="module")
def wrong():
    # the product rule with the derivative of sin forgotten: claim x²·sin x + 2x·sin x
    return check("x**2*sin(x)", wrt="x", claim="2*x*sin(x)+x**2*sin(x)", at={"x": 1})


@pytest.fixture(scope="module")
def gradient():
    return check("x**2*y+sin(y)", grad="x,y", claim="2*x*y, x**2-cos(y)")


def test_wrong_claim_html(tmp_path, wrong):
    text, page = written_page(wrong, tmp_path / "wrong.html")
    assert page.title == "Check of the claimed df/dx of f = x**2*sin(x)"
    assert page.verdict.strip() == "wrong"
    body = " ".join(page.text)
    assert "claim − exact =" in body and "counterexample" in body
    # the exact value at x = 1 to 20 digits, and the claim's distance 2.5244 − 2.2232 = 3.012e-01
    assert "2.2232442754839327307" in body and "3.012e-01" in body
    assert "levels off at |claim − exact|" in body
    assert text.count("<svg") == 1


def test_wrong_claim_csv_long_and_folder(tmp_path, wrong):
    long = pd.read_csv(da.write_csv(wrong, tmp_path / "wrong.csv"), dtype=str)
    evidence = wrong.evidence.table
    assert len(long) == len(evidence)
    assert set(long.component) == {"df/dx"} and set(long.verdict) == {"wrong"}
    with mpmath.workdps(50):
        claim = mpmath.mpf(2) * mpmath.sin(1) + mpmath.sin(1)
        assert abs(mpmath.mpf(long.claim_value[0]) - claim) < mpmath.mpf(10) ** -48
        assert abs(mpmath.mpf(long.distance_to_claim[0]) - evidence.distance_to_claim.iloc[0]) < mpmath.mpf(10) ** -49
    folder = da.write_csv(wrong, tmp_path / "wrong")
    assert sorted(p.name for p in folder.iterdir()) == ["df_dx.csv", "summary.csv"]
    summary = pd.read_csv(folder / "summary.csv")
    assert summary.verdict.tolist() == ["wrong"] and summary.correct.tolist() == [False]
    # at the counterexample x = 1/2: claim (x² + 2x)·sin x, exact x²·cos x + 2x·sin x
    x = 0.5
    import math
    claim_v = (x * x + 2 * x) * math.sin(x)
    exact_v = x * x * math.cos(x) + 2 * x * math.sin(x)
    assert summary.counterexample[0] == "x=1/2"
    assert summary.rel_difference[0] == pytest.approx(abs(claim_v - exact_v) / abs(exact_v), rel=1e-12)


def test_gradient_html_summary_marks_the_wrong_component(tmp_path, gradient):
    text, page = written_page(gradient, tmp_path / "grad.html")
    assert page.verdict.strip() == "wrong"
    body = " ".join(page.text)
    assert "1 of 2 components wrong: df/dy." in body
    assert "missing term" in body
    assert text.count('<tr class="is-wrong">') == 1
    assert text.count('<section class="claim ok"') == 1 and text.count('<section class="claim wrong"') == 1
    rows = pd.read_csv(da.write_csv(gradient, tmp_path / "grad.csv"))
    assert rows.groupby("component").size().to_dict() == {"df/dx": 1, "df/dy": 12}


def test_not_differentiable_verdict(tmp_path):
    result = check("abs(x)", wrt="x", claim="x/abs(x)", at={"x": 0})
    text = da.write_html(result, tmp_path / "kink.html").read_text(encoding="utf-8")
    page = parse(text)
    assert page.verdict.strip() == "not differentiable at the point"  # the word of derivaudit.verdicts
    assert 'class="verdict warn"' in text
    assert "left derivative" in " ".join(page.text)


def test_cli_check_writes_reports_and_exits_1_for_a_wrong_claim(tmp_path, capsys):
    html, csv = tmp_path / "r" / "check.html", tmp_path / "r" / "check"
    code = main(["check", "x**3", "--wrt", "x", "--claim", "3*x", "--at", "x=2",
                 "--html", str(html), "--csv", str(csv) + "/"])
    assert code == 1
    assert f"wrote {html}" in capsys.readouterr().out
    assert parse(html.read_text(encoding="utf-8")).verdict.strip() == "wrong"
    assert (csv / "summary.csv").exists() and (csv / "df_dx.csv").exists()
