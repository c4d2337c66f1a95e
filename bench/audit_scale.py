"""Audit time against model size: the 2-layer tanh/softmax MLP at growing widths.

    python bench/audit_scale.py --write DIR        # write the specs only
    python bench/audit_scale.py                    # time every audit in-process, one table
    python bench/audit_scale.py --sizes 5,40       # some hidden widths only

The specs are ``examples/mlp_2layer.toml`` with its sizes changed: 4 inputs,
3 classes, batch 8, hidden 5/10/20/40/80; and a 32-64-10 network at batch 16
(2,762 parameters), all claims right, plus the same network with a planted
missing ``1/N`` in the claim of ``W1``.  For each spec the table gives the
audit's wall seconds (``derivaudit.audit``, the import not counted), the
verdicts, the ratio to hidden 5, and the seconds of one evidence point
against one forward evaluation of the model on balls (the cost of the
reverse pass, see docs/performance.md).
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEMPLATE = ROOT / "examples" / "mlp_2layer.toml"


def mlp_spec(inputs: int, hidden: int, classes: int, batch: int, *, missing_n: bool = False) -> dict:
    """The shipped 2-layer MLP spec at other sizes (``missing_n``: W1's claim forgets the 1/N)."""
    spec = tomllib.loads(TEMPLATE.read_text())
    spec["shapes"] = {"X": [inputs, batch], "Y": [classes, batch], "W1": [hidden, inputs], "b1": [hidden, 1],
                      "W2": [classes, hidden], "b2": [classes, 1]}
    spec["forward"]["loss"] = f"-sum(Y * log(A2)) / {batch}"
    spec["claims"] = {k: v.replace("/ 8", f"/ {batch}") for k, v in spec["claims"].items()}
    if missing_n:
        spec["claims"]["W1"] = "dZ1 @ X.T"
    return spec


def specs(sizes) -> dict[str, dict]:
    """Name → spec of every audit of the bench."""
    out = {f"hidden{h}": mlp_spec(4, h, 3, 8) for h in sizes}
    out["32-64-10_b16"] = mlp_spec(32, 64, 10, 16)
    out["32-64-10_b16_missing_1/N"] = mlp_spec(32, 64, 10, 16, missing_n=True)
    return out


def toml_text(spec: dict) -> str:
    """A spec dict as TOML (strings, lists of ints or strings, nested one level)."""
    lines = []
    for section, body in spec.items():
        lines.append(f"[{section}]")
        for key, value in body.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="DIR", help="write the specs as TOML files to DIR and stop")
    parser.add_argument("--sizes", default="5,10,20,40,80", help="hidden widths (comma separated)")
    args = parser.parse_args()
    all_specs = specs([int(s) for s in args.sizes.split(",")])
    if args.write:
        out = Path(args.write)
        out.mkdir(parents=True, exist_ok=True)
        for name, spec in all_specs.items():
            (out / (name.replace("/", "") + ".toml")).write_text(toml_text(spec))
        return
    import derivaudit as da

    first = None
    print("| spec | parameters | audit s | / hidden5 | verdicts |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, spec in all_specs.items():
        start = time.perf_counter()
        result = da.audit(spec)
        seconds = time.perf_counter() - start
        first = first or seconds
        n = sum(c.entries for c in result.claims)
        verdicts = ",".join(f"{c.parameter}:{c.verdict}" for c in result.claims)
        print(f"| {name} | {n} | {seconds:.2f} | {seconds / first:.2f} | {verdicts} |", flush=True)


if __name__ == "__main__":
    main()
