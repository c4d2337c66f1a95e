"""Time the audit of the 2-layer MLP examples and say where the time goes.

    python bench/audit_mlp.py            # both examples, one run each
    python bench/audit_mlp.py --repeat 3

Prints one line per example: total wall seconds of ``derivaudit.audit`` (the
import of derivaudit is not counted) and the seconds of each stage as the
audit records them (``AuditResult.seconds``): building the layered model,
the reverse-mode exact gradient, compiling (lambdify), evaluating at the
random points, the finite-difference evidence, and the verdicts (proof
attempts and diagnoses).  Target: under 20 s for examples/mlp_2layer.toml.

A last line times a 150-layer tanh chain with one wrong claim (issue 13:
its diagnoses once rebuilt the model 600 times, 251 s; each diagnosis now
has its own budget, Limits.diagnosis_seconds).
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
    start = time.perf_counter()
    result = da.audit(tanh_chain(150))
    print(f"tanh_chain_150_one_wrong: {time.perf_counter() - start:.2f} s "
          + ",".join(f"{c.parameter}:{c.status}" for c in result.claims))


def tanh_chain(layers: int) -> dict:
    """``loss = tanh(tanh(...tanh(w·x)...)) + v²`` with a wrong claim for w and a right one for v."""
    forward = {"Z1": "tanh(w * x)"}
    forward.update({f"Z{k}": f"tanh(Z{k - 1})" for k in range(2, layers + 1)})
    forward["loss"] = f"Z{layers} + v**2"
    return {"shapes": {"x": [], "w": [], "v": []}, "params": {"names": ["w", "v"]},
            "forward": forward, "claims": {"w": "1", "v": "2*v"}, "audit": {"points": 1}}


if __name__ == "__main__":
    main()
