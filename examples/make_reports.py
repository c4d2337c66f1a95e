"""Regenerate the sample reports committed under reports/.

    python examples/make_reports.py

* reports/cubic.csv, reports/cubic.html — the seed example, f(θ) = θ³ at θ = 1,
  swept over twelve steps at 50 digits;
* reports/cubic_float64.html — the same in IEEE doubles: the V-curve of
  truncation against roundoff, with the best step and the error model
  (centered4 is exact for a cubic: only roundoff remains, and the page says so);
* reports/mlp_buggy.html, reports/mlp_buggy/ — the backprop audit of the
  two-layer network with bugs planted in its hand-derived gradients
  (examples/mlp_2layer_buggy.toml).

The pages name files relative to the repository, never a path of the
machine that built them; ``tests/test_samples.py`` rebuilds them all and
compares them with the committed ones.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import derivaudit as da  # noqa: E402  (the repository's own package, first on the path)

#: the spec of the buggy network, relative to the repository (the page shows this text)
BUGGY_SPEC = "examples/mlp_2layer_buggy.toml"


def seed_example(folder: Path) -> None:
    table = da.study("theta**3", wrt="theta", at={"theta": 1}, eps="1e-1:1e-12:12",
                     schemes=["forward", "centered"], dps=50)
    print("wrote", da.write_csv(table, folder / "cubic.csv"))
    print("wrote", da.write_html(table, folder / "cubic.html"))
    table = da.study("theta**3", wrt="theta", at={"theta": 1}, eps="1e-1:1e-12:23",
                     schemes=["forward", "centered", "centered4"], precision="float64")
    print("wrote", da.write_html(table, folder / "cubic_float64.html"))


def buggy_mlp(folder: Path) -> None:
    here = Path.cwd()
    os.chdir(ROOT)  # the spec is named relative to the repository
    try:
        result = da.audit(BUGGY_SPEC)
    finally:
        os.chdir(here)
    print("wrote", da.write_csv(result, f"{folder / 'mlp_buggy'}/"))
    print("wrote", da.write_html(result, folder / "mlp_buggy.html"))


def build(folder: Path = ROOT / "reports") -> None:
    """Write every sample report into ``folder``."""
    seed_example(folder)
    buggy_mlp(folder)


if __name__ == "__main__":
    build()
