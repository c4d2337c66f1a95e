"""Time the audit of the 2-layer MLP examples and say where the time goes.

    python bench/audit_mlp.py            # both examples, one run each
    python bench/audit_mlp.py --repeat 3

Prints one line per example: total wall seconds of ``derivaudit.audit`` (the
import of derivaudit is not counted) and the seconds of each stage as the
audit records them (``AuditResult.seconds``): building the layered model,
the reverse-mode exact gradient, compiling (lambdify), evaluating at the
random points, the finite-difference evidence, and the verdicts (proof
attempts and diagnoses).  Target: under 20 s for examples/mlp_2layer.toml.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import derivaudit as da  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    for name in ("mlp_2layer", "mlp_2layer_buggy"):
        spec = ROOT / "examples" / f"{name}.toml"
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = da.audit(spec)
            seconds = time.perf_counter() - start
            stages = " ".join(f"{k.replace(' ', '_')}={v:.2f}" for k, v in result.seconds.items()
                              if k != "total")
            verdicts = ",".join(f"{c.parameter}:{c.status}" for c in result.claims)
            print(f"{name}: {seconds:.2f} s ({stages}) {verdicts}")


if __name__ == "__main__":
    main()
