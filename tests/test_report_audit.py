"""CSV and HTML reports of backprop audits."""

import pandas as pd
import pytest

import derivaudit as da

from test_report import written_page

audit_module = pytest.importorskip("derivaudit.audit")

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
    return audit_module.audit(spec)


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
