"""Regenerate the sample reports committed under reports/.

    python examples/make_reports.py

* reports/cubic.csv, reports/cubic.html — the seed example, f(θ) = θ³ at θ = 1,
  swept over twelve steps at 50 digits (the README's quick-start command);
* reports/cubic_float64.html — the same in IEEE doubles: the V-curve of
  truncation against roundoff, with the best step and the error model;
* reports/mlp_buggy.html, reports/mlp_buggy/ — the backprop audit of the
  two-layer network with bugs planted in its hand-derived gradients
  (examples/mlp_2layer_buggy.toml).
"""

from pathlib import Path

import derivaudit as da
from derivaudit.progress import terminal_progress

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"


def seed_example() -> None:
    table = da.study("theta**3", wrt="theta", at={"theta": 1}, eps="1e-1:1e-12:12",
                     schemes=["forward", "centered"], dps=50)
    print("wrote", da.write_csv(table, REPORTS / "cubic.csv"))
    print("wrote", da.write_html(table, REPORTS / "cubic.html"))
    table = da.study("theta**3", wrt="theta", at={"theta": 1}, eps="1e-1:1e-12:23",
                     schemes=["forward", "centered", "centered4"], precision="float64")
    print("wrote", da.write_html(table, REPORTS / "cubic_float64.html"))


def buggy_mlp() -> None:
    from derivaudit.audits.audit import audit

    result = audit(ROOT / "examples" / "mlp_2layer_buggy.toml", progress=terminal_progress())
    print("wrote", da.write_csv(result, REPORTS / "mlp_buggy/"))
    print("wrote", da.write_html(result, REPORTS / "mlp_buggy.html"))


if __name__ == "__main__":
    seed_example()
    buggy_mlp()
