"""derivaudit study with Richardson, complex step, mixed partials and the float64 error model."""

import pandas as pd

from derivaudit.cli import main


def test_richardson_and_complex_step_schemes(capsys):
    code = main(["study", "exp(x)", "--at", "x=1", "--eps", "1e-1:1e-4:4",
                 "--schemes", "richardson-centered,complex-step", "--dps", "30"])
    out = capsys.readouterr().out
    assert code == 0
    fitted = [line.split() for line in out.splitlines() if line.split()[:1] in (["richardson-centered"],
                                                                                 ["complex-step"])]
    orders = {row[0]: (float(row[1]), int(row[2])) for row in fitted if len(row) == 4}
    assert orders["richardson-centered"][1] == 4 and abs(orders["richardson-centered"][0] - 4) < 0.05
    assert orders["complex-step"][1] == 2 and abs(orders["complex-step"][0] - 2) < 0.01


def test_float64_prints_predicted_best_step_beside_measured(capsys, tmp_path):
    path = tmp_path / "v.csv"
    code = main(["study", "exp(x)", "--at", "x=1", "--eps", "1e-1:1e-13:25", "--float64",
                 "--schemes", "centered,complex-step", "--csv", str(path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "predicted by the float64 error model" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "predicted_best_eps" in line)
    assert lines[start].split() == ["scheme", "best_eps", "min_abs_error", "fitted_best_eps",
                                    "predicted_best_eps", "predicted_min_error"]
    centered = lines[start + 1].split()
    assert centered[0] == "centered" and lines[start + 2].split()[0] == "complex-step"
    assert 0.1 < float(centered[1]) / float(centered[4]) < 10
    assert "predicted_error" in pd.read_csv(path).columns


def test_mixed_partial_from_the_command_line(capsys):
    code = main(["study", "x**2*y**3", "--wrt", "x,y", "--at", "x=1", "y=2", "--eps", "0.1,0.01",
                 "--schemes", "centered"])
    out = capsys.readouterr().out
    assert code == 0
    assert "∂^2f/∂x∂y = 6*x*y**2" in out


def test_complex_step_refused_for_abs(capsys):
    code = main(["study", "abs(x) + x", "--at", "x=1", "--schemes", "complex-step"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "analytic along the real axis, and abs is not" in err


def test_float64_steps_print_as_the_double_the_user_typed(capsys):
    # a double never needs more than 17 digits: 20 printed digits of 1e-20 showed its binary
    # expansion (9.9999999999999994515e-21), digits no one typed and no one needs
    code = main(["study", "log(x)", "--at", "x=1e-3", "--eps", "1e-20,0.1", "--schemes", "complex-step",
                 "--float64"])
    out = capsys.readouterr().out
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.startswith("complex-step")]
    assert [row[1] for row in rows[:2]] == ["1e-20", "0.1"]
    assert rows[0][2] == "1000.0"
