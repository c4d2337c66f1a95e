"""CSV and HTML reports of backprop audits."""

import mpmath
import pandas as pd
import pytest

import derivaudit as da
from derivaudit.audits.audit import audit
from derivaudit.cli import main

from test_report import parse, written_page


LINEAR = """
[shapes]
X = [2, 3]
Y = [1, 3]
W = [1, 2]
b = [1, 1]

[params]
names = ["W", "b"]

[forward]
Z = "W @ X + b"
A = "tanh(Z)"
loss = "sum((A - Y)**2) / 3"

[claims]
W = "2*(A - Y)*(1 - A**2) @ X.T / 3"
b = "sum(2*(A - Y)*(1 - A**2), axis=1, keepdims=True) / 3"
"""


@pytest.fixture(scope="module")
def right(tmp_path_factory):
    spec = tmp_path_factory.mktemp("spec") / "tanh_regression.toml"
    spec.write_text(LINEAR)
    return audit(spec)


def test_audit_of_right_claims_html(tmp_path, right):
    text, page = written_page(right, tmp_path / "audit.html")
    assert page.title == "Backprop audit of tanh_regression.toml"
    assert page.verdict.strip() == "correct"
    body = " ".join(page.text)
    assert "All 2 claimed gradients correct." in body
    for claim in right.claims:
        assert claim.claim in body
    # one convergence plot per claim; no heat-map when nothing is wrong
    assert text.count("<svg") == 2 and 'class="is-wrong"' not in text


def test_audit_csv_long_and_folder(tmp_path, right):
    long = pd.read_csv(da.write_csv(right, tmp_path / "audit.csv"))
    assert list(long.columns) == ["parameter", "shape", "verdict", "scheme", "eps", "eps_f64",
                                  "rel_difference", "observed_order"]
    steps = len(right.settings.steps)
    assert long.groupby("parameter").size().to_dict() == {"W": steps, "b": steps}
    w = long[long.parameter == "W"]
    assert w.rel_difference.tolist() == right["W"].rel_by_step
    # centered differences against a right claim: the relative difference falls like h²
    assert w.observed_order.iloc[1:].tolist() == pytest.approx([2.0] * (steps - 1), abs=0.05)
    folder = da.write_csv(right, tmp_path / "audit/")
    assert sorted(p.name for p in folder.iterdir()) == ["W_entries.csv", "b_entries.csv", "steps.csv",
                                                        "summary.csv"]
    summary = pd.read_csv(folder / "summary.csv")
    assert summary.parameter.tolist() == ["W", "b"]
    assert set(summary.verdict) <= {"correct (proved)", "correct (numerically)"}
    entries = pd.read_csv(folder / "W_entries.csv")
    assert entries.entry.tolist() == ["W[0,0]", "W[0,1]"] and not entries.wrong.any()


# the same regression without tanh, with the classic bug: the mean's 1/m forgotten in W's gradient
MISSING_MEAN = """
[shapes]
X = [2, 3]
Y = [2, 3]
W = [2, 2]
b = [2, 1]

[params]
names = ["W", "b"]

[forward]
Z = "W @ X + b"
loss = "sum((Z - Y)**2) / 3"

[claims]
W = "2*(Z - Y) @ X.T"
b = "sum(2*(Z - Y), axis=1, keepdims=True) / 3"
"""


@pytest.fixture(scope="module")
def buggy(tmp_path_factory):
    spec = tmp_path_factory.mktemp("spec") / "missing_mean.toml"
    spec.write_text(MISSING_MEAN)
    return audit(spec)


def test_audit_of_a_wrong_claim_html_highlights_it(tmp_path, buggy):
    text, page = written_page(buggy, tmp_path / "buggy.html")
    assert page.verdict.strip() == "wrong"
    body = " ".join(page.text)
    assert "1 of 2 claimed gradients wrong: W." in body
    assert "missing factor 1/3" in body
    assert text.count('<tr class="is-wrong">') == 1
    assert text.count('<section class="claim wrong"') == 1 and text.count('<section class="claim ok"') == 1
    # W: convergence plot and heat-map; b: convergence plot
    assert text.count("<svg") == 3
    assert "|claim − exact| per entry at the audit's first random point" in body


def test_audit_entries_csv_holds_the_differences(tmp_path, buggy):
    folder = da.write_csv(buggy, tmp_path / "buggy")
    entries = pd.read_csv(folder / "W_entries.csv", dtype={"abs_difference": str})
    assert entries.wrong.all()
    claim = buggy["W"]
    # claim = 3 × exact entry by entry, so |claim − exact| = 2/3 |claim|; all four differ
    assert (entries.abs_difference_f64 > 0).all()
    with mpmath.workdps(buggy.settings.dps):  # every digit kept as text, to the audit's precision
        for text, value in zip(entries.abs_difference, claim.entry_abs_difference):
            assert abs(mpmath.mpf(text) - value) <= abs(value) * mpmath.mpf(10) ** (1 - buggy.settings.dps)
    b = pd.read_csv(folder / "b_entries.csv")
    assert not b.wrong.any() and (b.abs_difference_f64 == 0).all()
    summary = pd.read_csv(folder / "summary.csv")
    assert summary.set_index("parameter").wrong_entries["W"] == "all 4"
    assert claim.order == pytest.approx(0, abs=0.05)


def test_cli_audit_writes_folder_and_page(tmp_path, capsys):
    spec = tmp_path / "missing_mean.toml"
    spec.write_text(MISSING_MEAN)
    folder, html = tmp_path / "out" / "mlp", tmp_path / "out" / "mlp.html"
    assert main(["audit", str(spec), "--csv", f"{folder}/", "--html", str(html)]) == 1
    out = capsys.readouterr().out
    assert f"wrote {html}" in out
    assert sorted(p.name for p in folder.iterdir()) == ["W_entries.csv", "b_entries.csv", "steps.csv",
                                                        "summary.csv"]
    assert parse(html.read_text(encoding="utf-8")).verdict.strip() == "wrong"


def test_audit_json_document(buggy, right):
    import json

    from derivaudit.reports.json_doc import json_text

    document = json.loads(json_text(buggy))
    assert document["schema"] == "derivaudit-report/1" and document["kind"] == "audit"
    assert document["correct"] is False
    wrong = [c for c in document["claims"] if not c["correct"]]
    assert wrong and all(c["verdict"] == "wrong" for c in wrong)
    assert all(isinstance(c["rel_difference"], str) for c in document["claims"])
    assert wrong[0]["witness"] and wrong[0]["steps"][0]["eps"] == "1e-2"
    assert json.loads(json_text(right))["correct"] is True


def test_audit_page_is_coherent(tmp_path, buggy):
    text, page = written_page(buggy, tmp_path / "buggy.html")
    assert 'class="contents"' in text
    from derivaudit.verdicts import Verdict

    body = " ".join(page.text)
    # verdict words come from derivaudit.verdicts only
    assert str(Verdict.WRONG) in body and "suspicious" not in body
