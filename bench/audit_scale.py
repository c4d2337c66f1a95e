"""Audit time against model size: the 2-layer tanh/softmax MLP at growing widths.

    python bench/audit_scale.py --write DIR        # write the specs only
    python bench/audit_scale.py                    # time every audit in-process, one table
    python bench/audit_scale.py --sizes 5,40       # some hidden widths only
    python bench/audit_scale.py --numpy            # also: median audit over examples/numpy, and
                                                   # check_gradient(mode="directions", precision="mp")
                                                   # of the 32-64-10 network as NumPy code

The specs are ``examples/mlp_2layer.toml`` with its sizes changed: 4 inputs,
3 classes, batch 8, hidden 5/10/20/40/80; and a 32-64-10 network at batch 16
(2,762 parameters), all claims right, plus the same network with a planted
missing ``1/N`` in the claim of ``W1``.  For each spec the table gives the
audit's wall seconds (``derivaudit.audit``, the import not counted), the
verdicts, the ratio to hidden 5, and the seconds of one evidence point
(forward and reverse pass, claims included) against one forward evaluation
of the model on balls, at the audit's working precision (see
docs/performance.md).  Wall and CPU seconds are both printed: on a shared
machine the CPU seconds are the steadier figure.
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
    parser.add_argument("--numpy", action="store_true", help="also the examples/numpy median and the NumPy network")
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
    print("| spec | parameters | graph nodes | audit wall s | audit CPU s | CPU / hidden5 | point / forward | verdicts |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, spec in all_specs.items():
        wall, cpu = time.perf_counter(), time.process_time()
        result = da.audit(spec)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        first = first or cpu
        n = sum(c.entries for c in result.claims)
        nodes, ratio = point_cost(spec)
        verdicts = ",".join(f"{c.parameter}:{c.verdict}" for c in result.claims)
        print(f"| {name} | {n} | {nodes} | {wall:.2f} | {cpu:.2f} | {cpu / first:.2f} | {ratio:.1f} | {verdicts} |",
              flush=True)
    if args.numpy:
        network_directions()
        numpy_examples()


def point_cost(spec: dict) -> tuple[int, float]:
    """Graph nodes, and the CPU seconds of one evidence point over one forward evaluation, on balls."""
    from derivaudit.audits.backward import add_backward_outputs, backward_pairs
    from derivaudit.audits.graph import forward_chain
    from derivaudit.audits.points import Outputs, random_points
    from derivaudit.audits.spec import load_spec
    from derivaudit.audits.witness import BallValues
    from derivaudit.core.balls import ball_precision, digits_to_bits, exact_ball
    from derivaudit.core.reverse import ReverseGraph, graph_nodes
    from derivaudit.lang.arrays import entries

    from derivaudit.limits import Limits

    loaded = load_spec(spec, limits=Limits(symbolic_seconds=Limits().audit_seconds))  # as the audit loads it
    model = loaded.models["symbolic draws"]
    chain, inputs = forward_chain(model), model.symbols()
    engine = ReverseGraph(chain, inputs, model.values["loss"])
    outputs = Outputs()
    for p in loaded.claims:
        outputs.add(f"exact:{p}", entries(model.param_symbols[p]))
        outputs.add(f"claim:{p}", entries(model.claims[p]))
    add_backward_outputs(outputs, model, backward_pairs(model))
    balls = BallValues(engine, outputs, adjoint_keys=[k for k in outputs.slots if "exact:" in k])
    point = random_points(1, inputs, loaded.settings)[0]
    bits = digits_to_bits(loaded.settings.dps + 20)
    start = time.process_time()
    balls.at_point(point, bits)
    whole = time.process_time() - start
    with ball_precision(bits):
        start = time.process_time()
        engine.loss_value({s: exact_ball(v) for s, v in zip(inputs, point)})
        forward = time.process_time() - start
    return graph_nodes([e for _, e in chain] + outputs.exprs), whole / forward


def numpy_examples() -> None:
    """Median audit seconds over examples/numpy (wall and CPU), with each verdict line."""
    import statistics

    import derivaudit as da
    walls, cpus = [], []
    for path in sorted((ROOT / "examples" / "numpy").glob("*.toml")):
        wall, cpu = time.perf_counter(), time.process_time()
        result = da.audit(path)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        print(f"{path.name}: {walls[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU, "
              + ",".join(f"{c.parameter}:{c.verdict}" for c in result.claims), flush=True)
    print(f"examples/numpy: median {statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU "
          f"over {len(walls)} audits")


def network_directions() -> None:
    """check_gradient of the 32-64-10 network (batch 16) as NumPy code, a planted wrong entry, directions at mp."""
    import numpy as np

    import derivaudit as da
    rng = np.random.default_rng(0)
    n_in, hidden, classes, batch = 32, 64, 10, 16
    X = rng.standard_normal((n_in, batch))
    Y = np.eye(classes)[:, rng.integers(0, classes, batch)]

    def f(W1, b1, W2, b2):
        E = np.exp(W2 @ np.tanh(W1 @ X + b1) + b2)
        return -np.sum(Y * np.log(E / E.sum(axis=0, keepdims=True))) / batch

    def grad(W1, b1, W2, b2):
        A1 = np.tanh(W1 @ X + b1)
        E = np.exp(W2 @ A1 + b2)
        dZ2 = (E / E.sum(axis=0, keepdims=True) - Y) / batch
        dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2)
        dW1 = dZ1 @ X.T
        dW1[3, 7] *= 1.001  # the planted wrong entry
        return dW1, dZ1.sum(axis=1, keepdims=True), dZ2 @ A1.T, dZ2.sum(axis=1, keepdims=True)

    theta = (rng.standard_normal((hidden, n_in)) * 0.2, np.zeros((hidden, 1)),
             rng.standard_normal((classes, hidden)) * 0.2, np.zeros((classes, 1)))
    wall, cpu = time.perf_counter(), time.process_time()
    result = da.check_gradient(f, grad, theta, mode="directions", precision="mp")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    located = "W1 (3, 7) named" if "(3, 7)" in result.summary() else "planted entry NOT named"
    print(f"32-64-10 NumPy code, 2762 parameters, mode='directions', precision='mp': {wall:.2f} s wall, "
          f"{cpu:.2f} s CPU, ok={result.ok}, {located}")


if __name__ == "__main__":
    main()
