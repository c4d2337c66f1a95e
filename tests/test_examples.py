"""The bundled example scripts run and print what their docstrings promise."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_seed_gradient_check_script():
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "seed_gradient_check.py")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    lines = [line.split() for line in run.stdout.splitlines()]
    assert ["forward", "0.01", "3.0301", "3", "0.0301", "1.0128"] in lines
    assert ["centered", "0.01", "3.0001", "3", "0.0001", "2.0000"] in lines
    fitted = {row[0]: float(row[1]) for row in lines if len(row) == 4 and row[0] in
              ("forward", "backward", "centered") and row[3] == "12"}
    assert abs(fitted["forward"] - 1) < 0.01 and abs(fitted["centered"] - 2) < 1e-6
