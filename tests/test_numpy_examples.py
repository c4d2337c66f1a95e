"""The example specs in natural NumPy (examples/numpy/): NumPy's own values, and their verdicts (issue 14).

1. Every formula of every spec is evaluated both ways — derivaudit's model at
   random points, and the same text evaluated by NumPy in this test — and the
   two must agree.
2. Every spec gets its expected verdicts: the correct ones are correct, the
   planted bugs are wrong exactly where planted.  The audits run in two worker
   processes (the slowest, multi-head attention and the unrolled RNN, take
   several seconds each).
"""

import concurrent.futures
import multiprocessing
import tomllib
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import derivaudit as da
from derivaudit.audits.spec import build, load_spec
from derivaudit.lang.arrays import entries, shape_of

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "numpy"
SPECS = sorted(p.stem for p in EXAMPLES.glob("*.toml"))

#: the planted bugs: which claims each *_bug spec gets wrong (all others are correct)
WRONG = {
    "attention_bug": {"Wq", "Wk"}, "batchnorm_bug": {"x"}, "dropout_bug": {"W"}, "layernorm_bug": {"x"},
    "linear_regression_bug": {"w"}, "logistic_regression_bug": {"w"}, "multihead_attention_bug": {"K"},
    "rnn_step_bug": {"Wh"}, "rnn_unrolled_bug": {"Wx", "Wh", "b"}, "softmax_classifier_bug": {"W", "b"},
    "svm_multiclass_bug": {"W"}, "two_layer_relu_bug": {"W1", "b1"}, "logistic_newton_bug": set(),
}


def test_every_model_has_a_correct_and_a_planted_bug_spec():
    assert len(SPECS) == 26
    assert {s for s in SPECS if s.endswith("_bug")} == set(WRONG)
    assert all(s + "_bug" in SPECS for s in SPECS if not s.endswith("_bug"))


def _numpy_namespace():
    def softmax(z, axis=None):
        e = np.exp(z - np.max(z, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    return {"np": np, "softmax": softmax}


def _as_numpy(value):
    numbers = entries(value)
    if all(isinstance(v, sp.Integer) for v in numbers):
        return np.array([int(v) for v in numbers]).reshape(shape_of(value))
    return np.array([float(v) for v in numbers]).reshape(shape_of(value))


@pytest.mark.parametrize("name", SPECS)
def test_formulas_agree_with_numpy(name):
    spec = load_spec(EXAMPLES / f"{name}.toml")
    model = build(spec)
    rng = np.random.default_rng(len(name))
    namespace = _numpy_namespace()
    subs = {}
    for input_name in list(spec.shapes) + [n for n in spec.data if n not in spec.shapes]:
        value = model.values[input_name]
        if input_name in model.param_symbols or input_name in model.data_symbols:
            numbers = rng.uniform(-1, 1, size=len(entries(value)))
            subs.update((s, sp.Float(float(v), 30)) for s, v in zip(entries(value), numbers))
            namespace[input_name] = numbers.reshape(shape_of(value)) if shape_of(value) else numbers[0]
        else:
            namespace[input_name] = _as_numpy(value)
    raw = tomllib.loads((EXAMPLES / f"{name}.toml").read_text())
    checked = []
    for d in spec.forward:
        ours = [e.xreplace(subs) for e in entries(model.local[d.name])]
        subs.update(zip(entries(model.values[d.name]), ours))
        checked.append((d.formula, ours))
    for d in spec.backward:
        checked.append((d.formula, [e.xreplace(subs) for e in entries(model.values[d.name])]))
    for param, value in model.claims.items():
        checked.append((spec.claims[param].formula, [e.xreplace(subs) for e in entries(value)]))
    for param, value in model.hessians.items():
        checked.append((spec.hessians[param].formula, [e.xreplace(subs) for e in entries(value)]))
    names = [d.name for d in spec.forward] + [d.name for d in spec.backward] + list(model.claims) + \
        [f"hessian {p}" for p in model.hessians]
    for (formula, ours), key in zip(checked, names):
        value = eval(formula, namespace)  # the test's own NumPy on trusted text
        theirs = np.asarray(value, dtype=float)
        if key in raw.get("forward", {}) or key in raw.get("backward", {}):
            namespace[key] = value if isinstance(value, int) else theirs  # sizes (d = X.shape[1]) stay ints
        got = np.array([float(v) for v in ours])
        assert got.size == theirs.size and np.allclose(got, theirs.reshape(-1), rtol=1e-10, atol=1e-12), \
            f"{name}: {key} = {formula}"


@pytest.fixture(scope="module")
def verdicts():
    """Every example audited, two at a time (one worker process per core)."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        futures = {name: pool.submit(da.audit, str(EXAMPLES / f"{name}.toml")) for name in SPECS}
        yield {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", SPECS)
def test_expected_verdicts(verdicts, name):
    result = verdicts[name]
    wrong = {c.parameter for c in result.claims if not c.correct}
    assert wrong == WRONG.get(name, set())
    assert all(c.verdict.startswith("correct") for c in result.claims if c.parameter not in wrong)
    # the planted bug of logistic_newton_bug is in its [hessians] claim: the penalty's λI forgotten
    assert [h.wrong_entries for h in result.hessians] == ([[(0, 0), (1, 1), (2, 2)]] if name == "logistic_newton_bug"
                                                          else [[]] * len(result.hessians))
