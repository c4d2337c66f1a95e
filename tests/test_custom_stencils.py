"""A user's own finite-difference scheme (issue 17): exact weights, Taylor-moment verdicts,
suggested weights, measured against claimed order, CLI, sweep files, reports and docs."""

import doctest
import re
import shlex
from fractions import Fraction
from pathlib import Path

import mpmath
import pandas as pd
import pytest
import sympy as sp

import derivaudit as da
from derivaudit.cli import main
from derivaudit.core.custom_stencils import CustomStencil, custom_stencil
from derivaudit.errors import DerivauditError
from derivaudit.studies.parallel import load_sweep, study_many
from derivaudit.studies.stencil_verdicts import stencil_table
from derivaudit.studies.orders import fitted_orders
from derivaudit.verdicts import ORDER_TOLERANCE, ExitCode, Verdict

R = sp.Rational
ROOT = Path(__file__).resolve().parent.parent

# name, offsets, weights, derivative, order, leading error constant
TEXTBOOK = [
    ("3-point second derivative", [-1, 0, 1], [1, -2, 1], 2, 2, R(1, 12)),
    ("5-point second derivative", [-2, -1, 0, 1, 2], ["-1/12", "4/3", "-5/2", "4/3", "-1/12"], 2, 4, R(-1, 90)),
    ("one-sided first derivative", [0, 1, 2], ["-3/2", 2, "-1/2"], 1, 2, R(-1, 3)),
    ("non-uniform first derivative", [-1, 0, 2], ["-2/3", "1/2", "1/6"], 1, 2, R(1, 3)),
    ("half-step offsets", [0, "1/2", 1], [-3, 4, -1], 1, 2, R(-1, 12)),
]


@pytest.mark.parametrize("name, offsets, weights, d, order, constant", TEXTBOOK, ids=[t[0] for t in TEXTBOOK])
@pytest.mark.parametrize("precision, eps", [("mp", "1e-2:1e-5:4"), ("float64", "1e-1:1e-3:5")])
def test_textbook_schemes_reach_their_order(name, offsets, weights, d, order, constant, precision, eps):
    st = da.custom_stencil(offsets, weights, derivative=d, name=name)
    assert isinstance(st, da.Stencil) and st.consistent
    assert (st.accuracy, st.error_constant, st.best_accuracy) == (order, constant, order)
    assert st.suggestion() == "" and st.failures() == []
    table = da.study("exp(sin(x))", at={"x": "0.7"}, eps=eps, schemes=[st], order=d, precision=precision, dps=30)
    fitted = fitted_orders(table)
    assert list(fitted.scheme) == [name]
    assert abs(fitted.fitted_order[0] - order) < 0.05
    assert list(table.table.theoretical_order) == [order] * len(table.table)
    assert table.stencils[name].notes[0] == f"order {order}, the highest these offsets allow"


def test_weights_are_exact_whatever_their_form():
    st = custom_stencil("-1, 0, 1", [-0.5, "0", Fraction(1, 2)])
    assert st.weights == (R(-1, 2), 0, R(1, 2))
    assert st.given_weights == ("-0.5", "0", "1/2")
    assert custom_stencil([0, "1/2", 1], [-3, 4, -1]).offsets == (0, R(1, 2), 1)
    # 0.1 is the decimal one tenth, not the double nearest it
    assert custom_stencil([0, 0.1], [-10, 10]).offsets[1] == R(1, 10)


def test_stencil_objects_run_beside_names_and_reproduce_the_builtin_scheme():
    mine = custom_stencil([-1, 0, 1], ["-1/2", 0, "1/2"], name="mine")
    table = da.study("theta**3", at={"theta": 1}, eps=["1e-2"], schemes=["centered", mine], dps=30)
    assert list(table.table.scheme) == ["centered", "mine"]
    assert table.table.approx[0] == table.table.approx[1]
    assert str(table.table.approx[1]) == "3.0001"


# wrong weights: (offsets, weights, derivative, failures, order, suggested, differing offsets)
WRONG = [
    # outer weights of the 5-point first derivative doubled: converges to 2/3·f'
    ([-2, -1, 0, 1, 2], ["1/6", "-2/3", 0, "2/3", "-1/6"], 1, ["Σ wᵢ oᵢ = 2/3, need 1"], 0,
     ["1/12", "-2/3", "0", "2/3", "-1/12"], [-2, 2]),
    # sign typo in the one-sided formula: Σ wᵢ ≠ 0 leaves f(x)/ε, which diverges
    ([0, 1, 2], ["-3/2", 2, "1/2"], 1, ["Σ wᵢ = 1, need 0", "Σ wᵢ oᵢ = 3, need 1"], -1,
     ["-3/2", "2", "-1/2"], [2]),
    # second difference without the factor: converges to f''/2
    ([-1, 0, 1], [0.5, -1, 0.5], 2, ["Σ wᵢ oᵢ² = 1, need 2"], 0, ["1", "-2", "1"], [-1, 0, 1]),
    # 3-point second derivative with a sign error in the middle: diverges like ε⁻²
    ([-1, 0, 1], [1, 2, 1], 2, ["Σ wᵢ = 4, need 0"], -2, ["1", "-2", "1"], [0]),
    # centered weights on a non-uniform grid
    ([-1, 0, 2], ["-1/2", 0, "1/2"], 1, ["Σ wᵢ oᵢ = 3/2, need 1"], 0, ["-2/3", "1/2", "1/6"], [-1, 0, 2]),
    # 5-point second derivative with 4/3 miscopied as 3/4
    ([-2, -1, 0, 1, 2], ["-1/12", "3/4", "-5/2", "4/3", "-1/12"], 2,
     ["Σ wᵢ = -7/12, need 0", "Σ wᵢ oᵢ = 7/12, need 0", "Σ wᵢ oᵢ² = 17/12, need 2"], -2,
     ["-1/12", "4/3", "-5/2", "4/3", "-1/12"], [-1]),
]


@pytest.mark.parametrize("offsets, weights, d, failures, order, suggested, differ", WRONG)
def test_wrong_weights_name_the_failing_moment_and_the_weights_that_work(offsets, weights, d, failures, order,
                                                                      suggested, differ):
    st = custom_stencil(offsets, weights, derivative=d)
    assert not st.consistent
    assert st.failures() == failures
    assert st.accuracy == order
    assert [str(w) for w in st.suggested_weights] == suggested
    assert st.differing_offsets() == differ
    assert st.verdict() == "wrong weights: " + "; ".join(failures)
    where = "offset" if len(differ) == 1 else "offsets"
    assert st.suggestion().endswith(f"yours differ at {where} {', '.join(map(str, differ))}")


def test_an_inconsistent_stencil_still_runs_and_converges_to_a_multiple():
    half = custom_stencil([-1, 0, 1], [0.5, -1, 0.5], derivative=2, name="half")
    table = da.study("exp(x)", at={"x": 0}, eps="1e-2:1e-4:3", schemes=[half], order=2, dps=30)
    # exp''(0) = 1: the stencil converges to 1/2, an error that does not vanish
    assert abs(table.table.approx.iloc[-1] - mpmath.mpf("0.5")) < 1e-8
    assert abs(fitted_orders(table).fitted_order[0]) < 0.05
    assert "so D_ε f → 1/2·f''(x), not f''(x)" in table.stencils["half"].notes[1]
    assert table.exit_code is ExitCode.WRONG


def test_inconsistent_stencils_run_in_float64_without_an_error_model():
    typo = custom_stencil([0, 1, 2], ["-3/2", 2, "1/2"], name="typo")
    table = da.study("exp(x)", at={"x": 0}, eps="1e-1:1e-3:3", schemes=[typo, "centered"], precision="float64")
    assert table.table.predicted_error[table.table.scheme == "typo"].isna().all()
    assert table.table.predicted_error[table.table.scheme == "centered"].notna().all()
    assert da.predicted_best_steps(table).scheme.tolist() == ["typo", "centered"]


def test_a_lower_order_than_the_offsets_allow_is_reported():
    st = custom_stencil([-1, 0, 1], [0, -1, 1])
    assert st.consistent and (st.accuracy, st.best_accuracy) == (1, 2)
    assert st.verdict() == "order 1; these offsets allow order 2"
    assert st.suggestion() == "for these offsets the order-2 weights are -1/2, 0, 1/2: yours differ at offsets -1, 0, 1"


def test_claimed_order_against_the_fitted_order():
    mine = custom_stencil([0, 1, 2], ["-3/2", 2, "-1/2"], name="mine")
    kwargs = dict(at={"x": "0.3"}, eps="1e-2:1e-4:3", schemes=["forward", mine], dps=30)
    right = da.study("exp(x)", claimed_order=2, **kwargs)
    assert set(right.stencils) == {"mine"}  # the claim is about the user's stencils
    assert right.stencils["mine"].claim is Verdict.NUMERICAL
    assert right.exit_code is ExitCode.OK
    wrong = da.study("exp(x)", claimed_order=3, **kwargs)
    verdict = wrong.stencils["mine"]
    assert verdict.claim is Verdict.WRONG and verdict.wrong
    assert verdict.notes[-1].startswith(f"claimed order 3: wrong (measured 2.00, tolerance ±{ORDER_TOLERANCE}")
    assert wrong.exit_code is ExitCode.WRONG
    # no user stencil: the claim is about every scheme; exact for x**2 leaves nothing to fit
    exact = da.study("x**2", at={"x": 1}, eps="1e-2:1e-3:2", schemes=["centered"], claimed_order=2)
    assert exact.stencils["centered"].claim is Verdict.UNDECIDED
    assert exact.exit_code is ExitCode.UNDECIDED
    assert main(["study", "x**2", "--at", "x=1", "--eps", "1e-2,1e-3", "--schemes", "centered",
                 "--claim-order", "2", "--quiet"]) == ExitCode.UNDECIDED


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(offsets=[-1, 0, 1], weights=[1, 2]), "3 offsets but 2 weights"),
    (dict(offsets=[-1, 0, 0], weights=[1, 2, 3]), "offset 0 is repeated (entries 2 and 3)"),
    (dict(offsets=[0, 1], weights=[1, -1], derivative=2), "2 offsets cannot reach a derivative of order 2"),
    (dict(offsets=[-1, 0, 1], weights=["a", 0, 1]), "weight 1 'a' must be a number"),
    (dict(offsets=[-1, "pi", 1], weights=[1, 0, 1]), "offset 2 'pi' must be a rational number"),
    (dict(offsets=[-1, 0, 1], weights=[1, None, 1]), "weight 2 must be a number or text"),
    (dict(offsets=[-1, 0, 1], weights=[1, 0, 1], derivative=0), "derivative order must be a whole number"),
    (dict(offsets=list(range(50)), weights=[1] * 50), "at most 41"),
])
def test_bad_stencils_are_one_line_errors(kwargs, fragment):
    with pytest.raises(DerivauditError) as info:
        custom_stencil(**kwargs)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_study_refuses_a_stencil_for_another_derivative_or_a_mixed_partial():
    second = custom_stencil([-1, 0, 1], [1, -2, 1], derivative=2)
    with pytest.raises(DerivauditError, match="approximates derivative 2, but the study asks for order 1"):
        da.study("exp(x)", at={"x": 0}, schemes=[second])
    first = custom_stencil([-1, 0, 1], ["-1/2", 0, "1/2"])
    with pytest.raises(DerivauditError, match="mixed partial"):
        da.study("x*y", wrt=["x", "y"], at={"x": 1, "y": 1}, schemes=[first])
    with pytest.raises(DerivauditError, match="claimed order must be a whole number"):
        da.study("exp(x)", at={"x": 0}, schemes=[first], claimed_order=0)


def test_cli_issue_example_and_claim(capsys):
    argv = ["study", "exp(sin(x))", "--at", "x=0.7", "--eps", "1e-2:1e-5:4",
            "--stencil=-2,-1,0,1,2:1/12,-2/3,0,2/3,-1/12"]
    assert main(argv + ["--claim-order", "4"]) == 0
    out = capsys.readouterr().out
    assert "stencil[-2,-1,0,1,2]   0.01" in out  # the readable name heads the table rows
    assert "forward" not in out  # --stencil alone runs only the user's schemes
    assert "  order 4, the highest these offsets allow" in out
    assert main(argv + ["--claim-order", "2"]) == 1
    assert "claimed order 2: wrong (measured 4.00" in capsys.readouterr().out


def test_cli_names_wrong_weights_and_exits_1(capsys):
    code = main(["study", "exp(x)", "--at", "x=0", "--eps", "1e-2,1e-3", "--schemes", "centered",
                 "--stencil", "-2,-1,0,1,2:1/6,-2/3,0,2/3,-1/6", "--stencil", "typo=0,1,2:-3/2,2,1/2"])
    out = capsys.readouterr().out
    assert code == 1
    assert "  wrong weights: Σ wᵢ oᵢ = 2/3, need 1" in out
    assert ("  for these offsets the order-4 weights are 1/12, -2/3, 0, 2/3, -1/12: "
            "yours differ at offsets -2, 2") in out
    assert "typo: offsets 0, 1, 2; weights -3/2, 2, 1/2" in out
    assert "centered" in out


@pytest.mark.parametrize("stencil, fragment", [
    ("-1,0,1:1,2", "3 offsets but 2 weights"),
    ("-1,0,0:1,2,3", "offset 0 is repeated"),
    ("0,1:1,-1", "cannot reach a derivative of order 2"),
    ("-1,0,1:1,x,1", "weight 2 'x' must be a number"),
    ("-1,0,1", "must be OFFSETS:WEIGHTS"),
    ("-1,0,1:", "the weights part is empty"),
    ("-1,,1:1,-2,1", "offsets entry 2 is empty"),
])
def test_cli_bad_stencils_exit_2_with_one_line(stencil, fragment, capsys):
    assert main(["study", "exp(x)", "--at", "x=0", "--order", "2", f"--stencil={stencil}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"derivaudit: error: stencil {stencil!r}") and fragment in err
    assert err.count("\n") == 1


SWEEP = """
[defaults]
eps = "1e-2:1e-4:3"

[[study]]
formula = "exp(x)"
at = { x = 0 }
stencil = [{ offsets = [0, 1, 2], weights = ["-3/2", 2, "-1/2"], name = "one-sided" },
           { offsets = [0, 1, 2], weights = ["-3/2", 2, "1/2"] }]
claimed_order = 2

[[study]]
formula = "sin(x)"
at = { x = 1 }
order = 2
schemes = ["centered"]
stencil = { offsets = [-1, 0, 1], weights = [1, -2, 1] }
"""


def test_sweep_file_stencils(tmp_path, capsys):
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP)
    tasks = load_sweep(path)
    assert [len(t.schemes) for t in tasks] == [2, 2]
    assert isinstance(tasks[0].schemes[0], CustomStencil) and tasks[0].options == {"claimed_order": 2}
    assert tasks[1].schemes[0] == "centered" and tasks[1].schemes[1].derivative == 2
    tables = study_many(tasks, workers=1)
    first = tables[0].stencils
    assert first["one-sided"].claim is Verdict.NUMERICAL
    assert first["stencil[0,1,2]"].failures == ("Σ wᵢ = 1, need 0", "Σ wᵢ oᵢ = 3, need 1")
    assert abs(fitted_orders(tables[1]).fitted_order[1] - 2) < 0.05
    assert da.SweepResult(tuple(tables)).exit_code is ExitCode.WRONG
    assert main(["sweep", str(path), "--workers", "1"]) == 1
    assert "study 1, stencil[0,1,2]: offsets 0, 1, 2; weights -3/2, 2, 1/2" in capsys.readouterr().out


@pytest.mark.parametrize("entry, fragment", [
    ('stencil = { offsets = [0, 1], weights = [1] }', "study 1, stencil 1: 2 offsets but 1 weights"),
    ('stencil = { offsets = [0, 1] }', "a stencil has the keys offsets, weights"),
    ('stencil = "0,1:-1,1"', "stencil must be a table"),
])
def test_bad_sweep_stencils_name_the_study(tmp_path, entry, fragment, capsys):
    path = tmp_path / "sweep.toml"
    path.write_text(f'[[study]]\nformula = "exp(x)"\nat = {{ x = 0 }}\n{entry}\n')
    assert main(["sweep", str(path), "--workers", "1"]) == 2
    assert fragment in capsys.readouterr().err


def test_reports_show_offsets_weights_moments_and_verdict(tmp_path):
    typo = custom_stencil([0, 1, 2], ["-3/2", 2, "1/2"], name="typo")
    table = da.study("exp(x)", at={"x": 0}, eps="1e-2:1e-3:2", schemes=["centered", typo], dps=20)
    row = stencil_table(table).iloc[0]
    assert (row.scheme, row.offsets, row.weights, row.moments, row.consistent, row.order, row.best_order) == \
        ("typo", "0, 1, 2", "-3/2, 2, 1/2", "1, 3", False, -1, 2)
    assert row.suggested_weights == "-3/2, 2, -1/2"
    assert row.verdict == "wrong weights: Σ wᵢ = 1, need 0; Σ wᵢ oᵢ = 3, need 1"
    da.write_csv(table, tmp_path / "study.csv")
    long = pd.read_csv(tmp_path / "study.csv")
    assert long.stencil_weights.fillna("").tolist() == ["", "", "-3/2, 2, 1/2", "-3/2, 2, 1/2"]
    da.write_csv(table, tmp_path / "folder/")
    assert pd.read_csv(tmp_path / "folder" / "stencils.csv").moments.tolist() == ["1, 3"]
    da.write_html(table, tmp_path / "study.html")
    html = (tmp_path / "study.html").read_text()
    assert 'class="verdict wrong"' in html and "Your stencils" in html
    assert "Σ wᵢ oᵢ = 3, need 1" in html and "-3/2, 2, 1/2" in html
    assert table.stencils["typo"].as_dict()["moments"] == ("1", "3")


def _doc_section() -> str:
    text = (ROOT / "docs" / "study.md").read_text()
    return text.split("## Auditing a hand-derived scheme", 1)[1].split("\n## ", 1)[0]


def test_docs_cli_examples_print_what_they_show(capsys):
    """Each ``$ derivaudit`` line prints the lines shown after it (``...`` elides); ``$ echo $?`` its exit code."""
    blocks = re.findall(r"```\n(\$ derivaudit .*?)```", _doc_section(), re.S)
    assert len(blocks) == 3
    for block in blocks:
        code = None
        for step in block.split("$ ")[1:]:
            command, *shown = step.rstrip("\n").split("\n")
            if command == "echo $?":
                assert shown == [str(code)]
                continue
            code = main(shlex.split(command)[1:])
            out = capsys.readouterr().out.splitlines()
            for line in shown:
                if line != "...":
                    assert line in out, (command, line)


def test_docs_python_example_runs():
    block = re.search(r"```python\n(.*?)```", _doc_section(), re.S).group(1)
    test = doctest.DocTestParser().get_doctest(block, {}, "docs/study.md", "docs/study.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0 and runner.tries > 5
