"""The array formula language: NumPy semantics over sympy entries."""

import numpy as np
import pytest
import sympy as sp

from derivaudit.lang.array_walker import parse_array_formula
from derivaudit.lang.arrays import Array, shape_of, symbol_array
from derivaudit.errors import ParseError, ShapeError, UnsafeExpressionError
from derivaudit.lang.parse import make_symbol

ENV = {"W": symbol_array("W", (2, 3)), "x": symbol_array("x", (3, 1)), "b": symbol_array("b", (2, 1)),
       "r": symbol_array("r", (1, 3)), "s": make_symbol("s")}
W = np.array([[make_symbol(f"W[{i},{j}]") for j in range(3)] for i in range(2)], dtype=object)


def parse(text):
    return parse_array_formula(text, ENV)


def numeric(value, values):
    """Entries of ``value`` with every symbol replaced by ``values[name]``, as a float array."""
    subs = {make_symbol(k): v for k, v in values.items()}
    return np.array([float(e.xreplace(subs)) for e in value.flat]).reshape(value.shape)


def test_matmul_and_broadcast_add():
    z = parse("W @ x + b")
    assert shape_of(z) == (2, 1)
    assert z.flat[0] == sum(W[0, k] * make_symbol(f"x[{k},0]") for k in range(3)) + make_symbol("b[0,0]")


@pytest.mark.parametrize("text, shape", [
    ("W.T", (3, 2)), ("W * r", (2, 3)), ("W + b", (2, 3)), ("x.T @ W.T", (1, 2)), ("b * r", (2, 3)),
    ("sum(W)", ()), ("sum(W, axis=0)", (3,)), ("sum(W, axis=1)", (2,)),
    ("sum(W, axis=1, keepdims=True)", (2, 1)), ("mean(W, axis=-1, keepdims=True)", (2, 1)),
    ("max(W, axis=0, keepdims=True)", (1, 3)), ("softmax(W, axis=0)", (2, 3)),
    ("logsumexp(W, axis=0)", (3,)), ("ones(2, 3) - zeros((2, 3))", (2, 3)), ("ones(4)", (4,)),
    ("ones_like(W) * s", (2, 3)), ("2 * W ** 2 / 3 - 1", (2, 3)), ("step(W) + relu(W)", (2, 3)),
    ("sum(W, axis=0) @ x", (1,)), ("W @ sum(x, axis=1)", (2,)), ("transpose(b) @ W", (1, 3)),
    ("log_softmax(W, axis=1)", (2, 3)), ("maximum(W, 0) + minimum(W, b)", (2, 3)),
])
def test_shapes_follow_numpy(text, shape):
    assert shape_of(parse(text)) == shape


def test_values_follow_numpy():
    rng = np.random.default_rng(1)
    w, xv, bv, rv = rng.normal(size=(2, 3)), rng.normal(size=(3, 1)), rng.normal(size=(2, 1)), rng.normal(size=(1, 3))
    values = {f"W[{i},{j}]": w[i, j] for i in range(2) for j in range(3)}
    values |= {f"x[{i},0]": xv[i, 0] for i in range(3)} | {f"b[{i},0]": bv[i, 0] for i in range(2)}
    values |= {f"r[0,{j}]": rv[0, j] for j in range(3)}
    # the classic missing-keepdims bug: sum(axis=1) is 1-D and broadcasts as a row
    assert np.allclose(numeric(parse("b + sum(x, axis=1)"), values),
                       bv + xv.sum(axis=1))
    assert np.allclose(numeric(parse("W @ x + b"), values), w @ xv + bv)
    assert np.allclose(numeric(parse("W * r - b"), values), w * rv - bv)
    assert np.allclose(numeric(parse("mean(W, axis=0, keepdims=True)"), values), w.mean(axis=0, keepdims=True))
    soft = np.exp(w) / np.exp(w).sum(axis=0, keepdims=True)
    assert np.allclose(numeric(parse("softmax(W, axis=0)"), values), soft)
    assert np.allclose(numeric(parse("logsumexp(W, axis=1)"), values), np.log(np.exp(w).sum(axis=1)))
    assert np.allclose(numeric(parse("tanh(W) * sigmoid(W)"), values), np.tanh(w) / (1 + np.exp(-w)))
    assert np.allclose(numeric(parse("max(W, axis=1)"), values), w.max(axis=1))
    assert np.allclose(numeric(parse("step(W)"), values), (w > 0).astype(float))
    total = parse("sum(W ** 2)")
    assert float(total.xreplace({make_symbol(k): v for k, v in values.items()})) == pytest.approx((w ** 2).sum())


@pytest.mark.parametrize("text, message", [
    ("W + x", "operands of '+'/'-': shapes (2, 3) and (3, 1) do not broadcast at column 1"),
    ("W * x.T.T", "operands of '*'/'/': shapes (2, 3) and (3, 1) do not broadcast"),
    ("W @ b", "'@' of shapes (2, 3) and (2, 1): inner dimensions 3 and 2 differ at column 1"),
    ("s @ W", "'@' needs arrays on both sides, got shapes () and (2, 3)"),
    ("sum(W, axis=2)", "sum: axis 2 is out of range for a 2-D array"),
    ("W - sum(W, axis=1)", "shapes (2, 3) and (2,) do not broadcast"),
])
def test_shape_errors_name_both_shapes(text, message):
    with pytest.raises(ShapeError) as info:
        parse(text)
    assert message in str(info.value)


@pytest.mark.parametrize("text, cls, message", [
    ("W.dtype", UnsafeExpressionError, "attribute access is not allowed"),
    ("W.shape", ParseError, "'W.shape' is a shape (a tuple of sizes), not a value"),
    ("sum(W, keepdim=True)", ParseError, "sum() got an unexpected keyword 'keepdim' (it takes axis=, keepdims=)"),
    ("exp(W, axis=0)", ParseError, "exp() got an unexpected keyword 'axis'"),
    ("sum(W, **k)", UnsafeExpressionError, "'**' arguments are not allowed"),
    ("sum(W, axis=x)", ParseError, "axis= must be a literal whole number"),
    ("sum(W, keepdims=1)", ParseError, "keepdims= must be True or False"),
    ("max(W, 1)", ParseError, "max(x, N) is ambiguous"),
    ("V + 1", ParseError, "unknown name 'V'"),
    ("bb + 1", ParseError, "did you mean 'b'?"),
    ("W / zeros(2, 3)", ParseError, "division by zero"),
    ("ones(0, 2)", ParseError, "ones() needs a shape of positive whole numbers"),
    ("__import__('os')", UnsafeExpressionError, ""),
    ("(lambda: W)()", UnsafeExpressionError, "only named functions can be called"),
    ("W[lambda: 0]", UnsafeExpressionError, "lambda is not allowed"),
])
def test_bad_formulas_are_refused(text, cls, message):
    with pytest.raises(cls) as info:
        parse(text)
    assert message in str(info.value)


def test_array_equality_and_zero():
    assert Array(np.zeros((2, 2), dtype=object) * sp.Integer(0)) == 0
    assert parse("W - W") == 0
    assert not parse("W") == 0
