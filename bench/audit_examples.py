"""Time the audit of every example spec in natural NumPy (examples/numpy/) and report the median.

    python bench/audit_examples.py               # every spec once
    python bench/audit_examples.py --repeat 3    # median of three runs per spec
    python bench/audit_examples.py multihead_attention rnn_unrolled

Prints one line per spec — wall and CPU seconds of ``derivaudit.audit`` (the
import of derivaudit is not counted), the stages the audit records
(``AuditResult.seconds``) and the verdicts — then the targets of issue 14:
the median audit time over the example specs (goal: under 4 s each) and the
3-D multi-head attention core, 2 heads × 3 tokens × 4 dims with claims for
Q, K and V (goal: under 5 s on 2 cores), and as its last line

    examples_median_s=<seconds> examples_max_s=<seconds> multihead_attention_s=<seconds>

CPU seconds are reported besides wall seconds: on a busy machine the wall
time of one process grows with the load, its CPU time much less.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import derivaudit as da  # noqa: E402

EXAMPLES = ROOT / "examples" / "numpy"


def time_audit(path: Path, repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeat`` audits of ``path``, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = da.audit(path)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="spec names (default: every spec in examples/numpy)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    names = args.names or sorted(p.stem for p in EXAMPLES.glob("*.toml"))
    walls = {}
    for name in names:
        wall, cpu, result = time_audit(EXAMPLES / f"{name}.toml", args.repeat)
        walls[name] = wall
        stages = " ".join(f"{k.replace(' ', '_')}={v:.2f}" for k, v in result.seconds.items() if k != "total")
        verdicts = ",".join(f"{c.parameter}:{c.status}" for c in result.claims)
        print(f"{name:30s} {wall:6.2f} s wall {cpu:6.2f} s cpu  ({stages}) {verdicts}", flush=True)
    median = statistics.median(walls.values())
    print(f"\nmedian over {len(walls)} specs: {median:.2f} s (goal < 4 s each); "
          f"slowest {max(walls, key=walls.get)} {max(walls.values()):.2f} s")
    multihead = walls.get("multihead_attention", float("nan"))
    print(f"3-D multi-head attention core (2 heads x 3 tokens x 4 dims): {multihead:.2f} s (goal < 5 s)")
    print(f"examples_median_s={median:.2f} examples_max_s={max(walls.values()):.2f} "
          f"multihead_attention_s={multihead:.2f}")


if __name__ == "__main__":
    main()
