"""Parallel studies: processes and Dask give the serial tables, value for value."""

import math
import textwrap

import mpmath
import pandas as pd
import pytest

import derivaudit as da
from derivaudit.cli import main
from derivaudit.errors import DerivauditError, DomainError, ParseError, SpecError
from derivaudit.studies.parallel import StudyTask, combine, load_sweep, study_many, sweep_summary

TASKS = [
    StudyTask("exp(x)*sin(x)", at={"x": "0.5"}, eps="1e-1:1e-9:5", schemes=("forward", "centered4")),
    StudyTask("sigmoid(w*x + b)", wrt="w", at={"w": "0.5", "x": 2, "b": "-0.25"}, eps=[0.1, 0.001],
              schemes=("backward", "centered"), dps=30),
    StudyTask("log(1 + x**2)", at={"x": 2}, eps="1e-2:1e-10:5", schemes=("centered",), order=2),
    StudyTask("tanh(x)", at={"x": "0.6"}, eps="1e-1:1e-12:6", schemes=("forward", "centered"),
              precision="float64"),
]


def same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def assert_identical(results, expected):
    assert len(results) == len(expected)
    for result, reference in zip(results, expected):
        assert result.meta() == reference.meta()
        table, reference = result.table, reference.table
        assert list(table.columns) == list(reference.columns) and len(table) == len(reference)
        for column in reference.columns:
            for a, b in zip(table[column], reference[column]):
                assert same_value(a, b), (column, a, b)


@pytest.fixture(scope="module")
def serial():
    return study_many(TASKS, workers=1)


def test_serial_is_study_called_directly(serial):
    direct = [da.study(t.formula, wrt=t.wrt, at=t.at, eps=t.eps, schemes=t.schemes, order=t.order,
                       dps=t.dps, precision=t.precision) for t in TASKS]
    assert_identical(serial, direct)
    # real values, in the task order: the first study's exact derivative is e^x (sin x + cos x)
    with mpmath.workdps(50):
        expected = mpmath.exp(mpmath.mpf(1) / 2) * (mpmath.sin(mpmath.mpf(1) / 2) + mpmath.cos(mpmath.mpf(1) / 2))
        assert abs(serial[0].table.exact.iloc[0] - expected) < mpmath.mpf(10) ** -49
    assert serial[1].dps == 30 and serial[2].derivative == 2
    assert serial[3].precision == "float64"


def test_processes_give_the_serial_tables(serial):
    assert_identical(study_many(TASKS, workers=2), serial)


def test_default_workers_and_progress(serial):
    seen = []
    tables = study_many(TASKS[:2], progress=lambda done, total: seen.append((done, total)))
    assert_identical(tables, serial[:2])
    assert seen == [(1, 2), (2, 2)]


def test_errors_name_the_study():
    bad = [TASKS[0], StudyTask("log(x)", at={"x": "0.05"}, eps=[0.1], schemes=("backward",))]
    for workers in (1, 2):
        with pytest.raises(DomainError, match=r"^study 2 \(log\(x\) at x=0.05\): .*undefined"):
            study_many(bad, workers=workers)
    with pytest.raises(ParseError, match="study 1"):
        study_many([StudyTask("x**", at={"x": 1})], workers=1)
    with pytest.raises(DerivauditError, match="workers must be"):
        study_many(TASKS, workers=0)
    with pytest.raises(DerivauditError, match="task 1 is a str"):
        study_many(["x**2"])
    assert study_many([]) == []


def test_dask_local_cluster_gives_the_serial_tables(serial):
    distributed = pytest.importorskip("dask.distributed")
    # two threads in one worker: studies must still not overlap (mpmath's precision is global)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            assert_identical(study_many(TASKS, client=client), serial)
            with pytest.raises(DomainError, match="study 1"):
                study_many([StudyTask("log(x)", at={"x": "0.05"}, eps=[0.1], schemes=("backward",))],
                           client=client)
        # a scheduler address: derivaudit connects for the call and disconnects after
        assert_identical(study_many(TASKS[:2], client=cluster.scheduler_address), serial[:2])


def test_dask_bad_client():
    pytest.importorskip("dask.distributed")
    with pytest.raises(DerivauditError, match="client must be"):
        study_many(TASKS, client=42)


SWEEP = """
    [defaults]
    eps = "1e-1:1e-4:4"
    schemes = "forward, centered"

    [[study]]
    formula = "theta**3"
    at = { theta = 1 }

    [[study]]
    formula = "x**2*y"
    wrt = "y"
    at = [{ x = 3, y = 0.5 }, { x = -1, y = 2 }]
    schemes = ["forward"]
    dps = 20
"""


def write(tmp_path, text, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_load_sweep_expands_points_and_defaults(tmp_path):
    tasks = load_sweep(write(tmp_path, SWEEP))
    assert [t.formula for t in tasks] == ["theta**3", "x**2*y", "x**2*y"]
    assert tasks[0].schemes == ("forward", "centered") and tasks[0].eps == "1e-1:1e-4:4"
    assert tasks[1].at == {"x": 3, "y": 0.5} and tasks[2].at == {"x": -1, "y": 2}
    assert tasks[1].schemes == ("forward",) and tasks[1].dps == 20 and tasks[0].dps == 50


@pytest.mark.parametrize("text, message", [
    ("[[study]]\nformul = 'x'\n", "study 1: unknown key 'formul'"),
    ("[[study]]\nat = { x = 1 }\n", "study 1: no formula"),
    ("[[study]]\nformula = 'x'\nat = 3\n", "'at' must be a table"),
    ("[defaults]\ndps = 30\n", "no studies"),
    ("[studies]\nformula = 'x'\n", "unknown table 'studies'"),
    ("[[study]\nformula = 'x'\n", "not valid TOML"),
])
def test_load_sweep_errors(tmp_path, text, message):
    with pytest.raises(SpecError, match=message):
        load_sweep(write(tmp_path, text))


def test_load_sweep_missing_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        load_sweep(tmp_path / "missing.toml")


def test_combine_and_summary(serial):
    table = combine(serial[:2])
    assert list(table.columns[:4]) == ["study", "formula", "wrt", "point"]
    assert len(table) == len(serial[0].table) + len(serial[1].table)
    assert set(table.study) == {1, 2}
    summary = sweep_summary(serial[:1]).set_index("scheme")
    assert abs(summary.loc["centered4", "fitted_order"] - 4) < 0.05
    assert summary.loc["forward", "point"] == "x=0.5"  # the point as the sweep file gives it


def test_cli_sweep_writes_one_long_csv(tmp_path, capsys):
    path = write(tmp_path, SWEEP)
    csv = tmp_path / "out" / "sweep.csv"
    assert main(["sweep", str(path), "--workers", "2", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "theta**3" in out and f"wrote {csv}" in out
    table = pd.read_csv(csv)
    assert len(table) == 4 * 2 + 4 + 4 and sorted(set(table.study)) == [1, 2, 3]
    cubic = table[(table.study == 1) & (table.scheme == "centered")]
    # θ³ at θ = 1: the centered error is exactly ε²
    assert list(cubic.abs_error_f64) == pytest.approx([1e-2, 1e-4, 1e-6, 1e-8], rel=1e-12)


def test_cli_sweep_bad_input_is_one_line(tmp_path, capsys):
    path = write(tmp_path, "[[study]]\nformula = 'log(x)'\nat = { x = -1 }\n")
    assert main(["sweep", str(path), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("derivaudit: error: study 1 (log(x) at x=-1)") and "\n" not in err
    assert main(["sweep", str(path), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "not both" in capsys.readouterr().err


# -- the speed-ups keep the precision contract ----------------------------------------------------

@pytest.mark.parametrize("formula, at", [("exp(x)*sin(x)", {"x": "0.5"}), ("sigmoid(x)", {"x": "-1.2"}),
                                         ("x*tanh(softplus(x))", {"x": "0.8"})])
def test_every_reported_digit_survives_a_higher_precision_run(formula, at):
    """50-digit results equal a 120-digit run rounded to 50 digits, down to ε = 1e-12 (errors ~1e-48)."""
    schemes = ("forward", "backward", "centered", "centered4")
    low = da.study(formula, at=at, eps="1e-1:1e-12:8", schemes=schemes, dps=50)
    high = da.study(formula, at=at, eps="1e-1:1e-12:8", schemes=schemes, dps=120)
    for column in ("approx", "exact", "error"):
        for a, b in zip(low.table[column], high.table[column]):
            with mpmath.workdps(50):
                b50 = +b
            # equal to 50 digits, up to one unit in the 50th digit (double rounding)
            assert a == b50 or abs(a - b50) <= abs(b50) * mpmath.mpf(10) ** -49, (column, a, b)
