"""Claimed Hessians of formulas: `derivaudit check F --hessian x,y --claim "row; row"` and check(..., hessian=...)."""

import json

import pytest

import derivaudit as da
from derivaudit.checks.results import Mistake
from derivaudit.cli import main
from derivaudit.errors import DerivauditError
from derivaudit.verdicts import Verdict

F = "x**3*y + exp(x*y)"
RIGHT = "6*x*y + y**2*exp(x*y), 3*x**2 + (1 + x*y)*exp(x*y); 3*x**2 + (1 + x*y)*exp(x*y), x**2*exp(x*y)"
MISSING = "6*x*y + y**2*exp(x*y), 3*x**2 + x*y*exp(x*y); 3*x**2 + x*y*exp(x*y), x**2*exp(x*y)"
LOPSIDED = "6*x*y + y**2*exp(x*y), 3*x**2 + x*y*exp(x*y); 3*x**2 + (1 + x*y)*exp(x*y), x**2*exp(x*y)"


def test_the_issue_example_is_proved(capsys):
    assert main(["check", F, "--hessian", "x,y", "--claim", RIGHT]) == 0
    out = capsys.readouterr().out
    assert out.count("CORRECT (proved symbolically") == 4
    assert "H[0,1] = d^2f/dxdy: CORRECT" in out and "Hessian in (x, y): all 4 entries correct" in out


def test_a_missing_product_rule_term_is_wrong_in_both_entries_with_a_certified_witness(capsys):
    assert main(["check", F, "--hessian", "x,y", "--claim", MISSING]) == 1
    out = capsys.readouterr().out
    assert "H[0,1] = d^2f/dxdy: WRONG" in out and "H[1,0] = d^2f/dydx: WRONG" in out
    assert "Hessian in (x, y): 2 of 4 entries wrong: (0, 1), (1, 0)" in out
    assert "counterexample: x=1/2, y=-1/2" in out and "(certified: its ball excludes 0)" in out
    assert "likely mistake: missing term — a product-rule term missing: d/dy of y*exp(x*y) has the term " \
           "exp(x*y) (from the factor y), which the claim lacks" in out
    assert "not symmetric" not in out


def test_the_python_api_names_the_entries_and_the_mistake():
    r = da.check(F, hessian=["x", "y"], claim=[["6*x*y + y**2*exp(x*y)", "3*x**2 + x*y*exp(x*y)"],
                                              ["3*x**2 + x*y*exp(x*y)", "x**2*exp(x*y)"]])
    assert r.verdict is Verdict.WRONG and int(r.exit_code) == 1
    assert r.wrong_entries == ((0, 1), (1, 0))
    mixed = r.components[1]
    assert mixed.entry == (0, 1) and mixed.label == "H[0,1] = d^2f/dxdy"
    assert mixed.diagnosis[0].mistake is Mistake.MISSING_TERM and "product-rule" in mixed.diagnosis[0].message
    assert str(mixed.difference) == "-exp(x*y)"
    assert [c.verdict for c in r.components] == [Verdict.PROVED, Verdict.WRONG, Verdict.WRONG, Verdict.PROVED]


def test_a_claim_that_is_not_symmetric_is_said_plainly(capsys):
    assert main(["check", F, "--hessian", "x,y", "--claim", LOPSIDED]) == 1
    out = capsys.readouterr().out
    assert "2 of 4" not in out and "1 of 4 entries wrong: (0, 1)" in out
    assert "note: the claimed Hessian is not symmetric: entry (0, 1) differs from (1, 0), but the true " \
           "Hessian is" in out


def test_a_symmetric_but_wrong_claim_names_both_entries():
    r = da.check("x**2*y**2", hessian="x,y", claim="2*y**2, 2*x*y; 2*x*y, 2*x**2")
    assert r.wrong_entries == ((0, 1), (1, 0)) and r.notes == ()
    assert all(c.diagnosis and c.diagnosis[0].mistake is Mistake.FACTOR for c in r.components[1:3])


def test_a_kink_in_the_hessian(capsys):
    r = da.check("max(x, 0)**2 + x*y", hessian="x,y", claim="2, 1; 1, 0")
    assert r.wrong_entries == ((0, 0),)
    assert r.components[0].counterexample["x"] < 0          # the witness lies left of the kink
    assert main(["check", "max(x, 0)**2 + x*y", "--hessian", "x,y", "--claim", "2*max(x,0)/x, 1; 1, 0",
                 "--at", "x=0", "y=1"]) == 0
    out = capsys.readouterr().out
    assert "H[0,0] = d^2f/dx^2: NOT DIFFERENTIABLE AT THE POINT" in out
    assert "not twice differentiable at the point: (0, 0)" in out


def test_an_entry_whose_partials_ignore_the_other_variable():
    r = da.check("x + y**2", hessian="x,y", claim="0, 1; 0, 2")
    assert r.wrong_entries == ((0, 1),) and set(r.components[1].counterexample) == {"x", "y"}


@pytest.mark.parametrize("claim, message", [
    ("0, 1, 2; 1, 0", "row 1 of the claimed Hessian has 3 entries but 2 variables were named"),
    ("0, 1", "the claimed Hessian has 1 row but 2 variables were named; give 2 rows separated by ';'"),
    ("0, z; 1, 0", "Hessian entry (0, 1) uses z, which the formula does not"),
])
def test_claims_of_the_wrong_shape_are_one_clear_line(claim, message, capsys):
    assert main(["check", "x*y", "--hessian", "x,y", "--claim", claim]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_hessian_excludes_wrt_and_grad(capsys):
    with pytest.raises(DerivauditError, match="give hessian alone"):
        da.check("x*y", wrt="x", hessian="x,y", claim="0, 1; 1, 0")
    assert main(["check", "x*y", "--grad", "x,y", "--hessian", "x,y", "--claim", "0, 1; 1, 0"]) == 2
    assert "argument --hessian: not allowed with argument --grad" in capsys.readouterr().err


def test_reports_of_a_hessian_check(tmp_path, capsys):
    html, csv = tmp_path / "h.html", tmp_path / "h.csv"
    assert main(["check", F, "--hessian", "x,y", "--claim", LOPSIDED, "--html", str(html), "--csv", str(csv),
                 "--quiet"]) == 1
    page = html.read_text()
    assert "Check of the claimed Hessian of f = x**3*y + exp(x*y)" in page
    assert "1 of 4 entries wrong: (0, 1). The claimed Hessian is not symmetric" in page
    assert '"H[0,1] = d^2f/dxdy",wrong' in csv.read_text()
    capsys.readouterr()
    assert main(["check", F, "--hessian", "x,y", "--claim", LOPSIDED, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["hessian"]["wrong_entries"] == [[0, 1]] and doc["hessian"]["variables"] == ["x", "y"]
    assert [c["entry"] for c in doc["components"]] == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert "not symmetric" in doc["hessian"]["notes"][0]
