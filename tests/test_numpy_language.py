"""The array language is NumPy: every construct gives NumPy's shape and values (issue 14).

Each formula is built by derivaudit over symbols, evaluated at random values,
and compared with the same text evaluated by NumPy itself in this test.
"""

import numpy as np
import pytest
import sympy as sp

import derivaudit as da
from derivaudit.errors import ParseError, ShapeError, UnsafeExpressionError
from derivaudit.lang.array_walker import parse_array_formula
from derivaudit.lang.arrays import Array, constant_array, entries, shape_of, symbol_array
from derivaudit.lang.functions import switching_functions

RNG = np.random.default_rng(7)
SHAPES = {"x": (4, 3), "v": (3,), "u": (4,), "w": (3, 5), "Q": (2, 3, 4), "K": (2, 3, 4), "s": ()}
VALUES = {name: RNG.uniform(-1, 1, size=shape) for name, shape in SHAPES.items()}
DATA = {"y": np.array([2, 0, 1, 1]), "mask": np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]]),
        "N": 4, "reg": 0.25}


def _numpy_namespace():
    def softmax(z, axis=None):
        e = np.exp(z - np.max(z, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    def logsumexp(z, axis=None, keepdims=False):
        return np.log(np.sum(np.exp(z), axis=axis, keepdims=keepdims))

    def log_softmax(z, axis=None):
        return z - logsumexp(z, axis=axis, keepdims=True)

    return {"np": np, "numpy": np, "softmax": softmax, "log_softmax": log_softmax, "logsumexp": logsumexp,
            "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(0, z),
            **VALUES, **DATA}


def _env():
    env = {name: symbol_array(name, shape) for name, shape in SHAPES.items()}
    for name, value in DATA.items():
        env[name] = constant_array(np.asarray(value).tolist(), np.shape(value)) if np.ndim(value) else \
            sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))
    return env


ENV = _env()
SUBS = {s: sp.Float(float(v), 30) for name, shape in SHAPES.items()
        for s, v in zip(entries(ENV[name]), np.asarray(VALUES[name]).reshape(-1))}


def ours(text):
    value = parse_array_formula(text, ENV)
    numbers = [complex(sp.N(e.xreplace(SUBS), 20)).real for e in entries(value)]
    return np.array(numbers).reshape(shape_of(value))


def theirs(text):
    return np.asarray(eval(text, _numpy_namespace()), dtype=float)  # the test's own NumPy, trusted text


#: one formula per construct of the language (docs/audit.md shows the same ones)
CORPUS = [
    # spellings: np. prefixes, methods on names, parentheses and call results, @ and batched @
    "np.exp(x) + numpy.tanh(x)", "x.dot(w)", "x @ w", "(x - x.mean(axis=0)).mean(axis=0)",
    "np.exp(x).sum(axis=1)", "x.T", "x.reshape(2, -1)", "x.reshape((3, 4))", "x.transpose()",
    "Q.transpose(1, 0, 2)", "np.transpose(Q, (2, 0, 1))", "Q.swapaxes(-1, -2)", "np.swapaxes(Q, 0, 2)",
    "x.sum()", "x.max(axis=0)", "x.min(1)", "np.max(x, 1)", "x.var(axis=0)", "x.std(axis=1, keepdims=True)",
    "np.var(x, axis=0, ddof=1)", "x.copy()", "(x > 0).astype(float)", "Q @ K.swapaxes(-1, -2)",
    "Q @ K[0].T", "v @ w", "x @ v", "v @ v", "Q[0] @ K[1].T",
    # indexing
    "x[0]", "x[-1]", "x[1:3]", "x[:, 1:]", "x[::2, ::-1]", "x[:, None]", "x[None, :, :]", "x[..., 0]",
    "Q[..., -1]", "x[:, np.newaxis, :]", "x[np.arange(4), y]", "np.eye(3)[y]", "x[y > 0]",
    "x[mask == 1]", "x[y]", "x[:, y[:2]]", "Q[:, 1:, ::2]", "x[1, 2]",
    # comparisons, masks and where
    "(x > 0) * x", "(x >= v) + (x < 0.5)", "(x >= v) * (x < 0.5) * 3", "(x > 0) + 1", "x == x", "x != 0", "np.where(x > 0, x, 0.1 * x)",
    "np.where(x > v, 1, 0)", "(x > 0) & (x < 0.5)", "(x < -0.5) | (x > 0.5)", "~(x > 0)",
    # functions
    "np.sqrt(x * x + 1)", "np.abs(x)", "np.maximum(x, 0)", "np.minimum(x, v)", "np.clip(x, -0.5, 0.5)", "np.clip(x, 0, None)", "np.clip(x, None, v)",
    "np.log(np.exp(x))", "np.log1p(x * x)", "np.expm1(x)", "np.sum(x, axis=(0, 1))", "np.mean(Q, axis=(1, 2))",
    "np.max(Q, axis=-1, keepdims=True)", "np.einsum('ij,jk->ik', x, w)", "np.einsum('hid,hjd->hij', Q, K)",
    "np.einsum('ii->i', x[:3])", "np.einsum('ij->', x)", "np.einsum('...d,...d->...', Q, K)",
    "np.einsum('i,i', v, v)", "np.stack([x, 2 * x], axis=1)", "np.stack([v, v])",
    "np.concatenate([x, x[:1]], axis=0)", "np.concatenate([x, x], axis=1)", "np.eye(3, 4, 1) * 2", "np.eye(N)", "np.arange(N) * 1.0",
    "np.arange(1, 7, 2)", "np.ones((2, 3))", "np.zeros(3) + v", "np.full((2, 2), 0.5)", "np.outer(u, v)",
    "np.pad(x, ((1, 0), (0, 2)))", "np.pad(x, 1, mode='constant', constant_values=3)", "np.ones_like(x)",
    "np.zeros_like(v)", "softmax(x, axis=1)", "log_softmax(x, axis=0)", "logsumexp(x, axis=-1)",
    "sigmoid(x)", "relu(x)", "np.square(x)", "reg * np.sum(x * x)", "x / N",
    # static sizes: x.shape[i], x.shape where NumPy takes a shape, x.size, x.ndim, len(x)
    "x.shape[0] * x", "x.shape[-1] + v", "x.sum(axis=1) / x.shape[1]", "x.reshape(x.shape[0], -1)",
    "np.zeros(x.shape) + x", "np.ones(Q.shape[1:])", "x.reshape(x.shape)", "x.size * x", "x.ndim * v",
    "len(x) * u", "np.ones(len(x.shape))", "np.arange(x.shape[0]) * 1.0", "x.T.shape[0] * v",
    # integer (and True/False) lists as indices
    "x[:, [0, 2]]", "x[[1, 3]]", "x[[-1, 0, 0]]", "x[[True, False, True, True]]", "x[[[0, 1], [2, 3]]]",
    "Q[:, [2, 0], 1:]",
    # methods and functions added for issue 14's probe
    "x.flatten()", "x.ravel()", "np.ravel(Q)", "x.clip(-0.5, 0.5)", "x.clip(min=0)",
    "np.clip(x, min=-0.2, max=0.3)", "x[:, :1].squeeze(1)", "np.squeeze(x[:1])",
    "np.squeeze(Q[:, :1, :], axis=1)", "x.prod(axis=0)", "np.prod(x, axis=1, keepdims=True)", "np.prod(v)",
    "np.power(x, 3)", "np.power(np.abs(x), 0.5)", "np.power(2, v)", "np.sign(x) * x", "np.sign(x - v)",
    "np.expand_dims(v, 0)", "np.expand_dims(x, (0, 3))", "np.expand_dims(x, -1)", "np.linalg.norm(x)",
    "numpy.linalg.norm(Q)", "np.linalg.norm(x, axis=1)", "np.linalg.norm(x, axis=0, keepdims=True)",
    "np.linalg.norm(v, 2)", "np.linalg.norm(x, 'fro')", "np.linalg.norm(Q, axis=(1, 2))",
    "np.linalg.norm(x, ord=2, axis=-1)", "np.linalg.norm(x, keepdims=True)", "x / np.linalg.norm(x)",
    "np.diag(v)", "np.diag(v, -1)", "np.diag(x)", "np.diag(x, 1)", "np.trace(x[:3])", "np.trace(x, 1)",
    "np.trace(Q, axis1=1, axis2=2)", "x.trace()", "np.trace(x, 5)", "np.cumsum(v)", "np.cumsum(x)",
    "np.cumsum(x, axis=0)", "x.cumsum(-1)", "np.tile(v, 2)", "np.tile(x, (2, 1, 2))", "np.repeat(v, 2)",
    "np.repeat(x, 2, axis=0)", "x.repeat([1, 2, 0], axis=1)", "np.repeat(x, 2)", "np.full_like(x, 0.5)",
    "np.zeros_like(x) + x", "np.triu(x)", "np.tril(x, -1)", "np.triu(Q, 1)", "np.tril(v)",
    # comparisons stay NumPy's bool arrays through structure and *_like (True + True is True)
    "np.ones_like(x > 0) + np.ones_like(x > 0)", "np.full_like(x > 0, 0.5) * 3", "np.diag(v > 0) + np.diag(v > 0)",
    "np.triu(x > 0) + np.tril(x > 0)", "np.tile(v > 0, 2) + np.repeat(v > 0, 2)", "(x > 0)[[0, 2]] + (x < 0)[[1, 3]]",
    "np.squeeze((x > 0)[:1]) + np.expand_dims(v > 0, 0)", "(x > 0).flatten() + (x < 0).ravel()",
]


@pytest.mark.parametrize("text", CORPUS)
def test_every_construct_is_numpy(text):
    expected = theirs(text)
    got = ours(text)
    assert got.shape == expected.shape, text
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-12), text


def test_comparisons_are_steps_with_zero_derivative():
    value = parse_array_formula("(x > 0) * x", ENV)
    entry = value.flat[0]
    symbol = ENV["x"].flat[0]
    assert sp.diff(entry, symbol).xreplace({symbol: sp.Rational(1, 2)}) == 1
    assert sp.diff(entry, symbol).xreplace({symbol: sp.Rational(-1, 2)}) == 0
    assert parse_array_formula("x > 0", ENV).boolean


def test_sign_is_a_kink_with_zero_derivative():
    value = parse_array_formula("np.sign(x)", ENV)
    symbol = ENV["x"].flat[0]
    assert switching_functions([value.flat[0]]) == [symbol]
    assert sp.diff(value.flat[0], symbol) == 0
    assert value.flat[0].xreplace({symbol: 0}) == 0


def test_sizes_are_static_integers():
    assert parse_array_formula("x.shape[0]", ENV) == 4 and parse_array_formula("len(x) * x.ndim", ENV) == 8
    assert parse_array_formula("x.size", ENV).is_Integer


def test_argmax_is_refused_in_one_line():
    with pytest.raises(ParseError) as info:
        parse_array_formula("np.argmax(x, axis=1)", ENV)
    message = str(info.value)
    assert "\n" not in message and "at column 1" in message
    assert message.endswith("write (x == np.max(x, axis=1, keepdims=True))")


def test_sizes_norm_power_and_sign_in_an_audit():
    """X.shape[0], np.linalg.norm, np.power and np.sign in a loss: a right claim proved, wrong ones found."""
    spec = {"shapes": {"X": [5, 3], "w": [3]}, "params": {"names": ["w"]},
            "data": {"y": [0.5, -1, 2, 0, 1], "reg": 0.1},
            "forward": {"N": "X.shape[0]", "r": "X @ w - y",
                        "loss": "np.power(np.linalg.norm(r), 2) / N + reg * np.sum(np.sign(w) * w)"},
            "claims": {"w": "2 * X.T @ r / N + reg * np.sign(w)"}, "audit": {"points": 2}}
    assert str(da.audit(spec)["w"].verdict) == "correct (proved)"
    for wrong in ("2 * X.T @ r / len(X) + reg * w", "2 * X.T @ r + reg * np.sign(w)"):
        result = da.audit({**spec, "claims": {"w": wrong}})
        assert str(result["w"].verdict) == "wrong" and result.exit_code == 1, wrong


def test_a_definition_without_variables_is_a_constant_later_formulas_can_size_with():
    """``N = X.shape[0]`` then ``np.arange(N)``: course code names its sizes before using them."""
    spec = {"shapes": {"X": [5, 4], "W": [4, 3]}, "params": {"names": ["W"]},
            "data": {"y": [0, 2, 1, 1, 0], "reg": 0.05},
            "forward": {"N": "X.shape[0]", "C": "W.shape[1]", "I": "np.eye(C)", "scores": "X.dot(W)",
                        "correct": "scores[np.arange(N), y]",
                        "margins": "np.maximum(0, scores - correct[:, np.newaxis] + 1) * (1 - I[y])",
                        "loss": "np.sum(margins) / N + reg * np.sum(W * W)"},
            "backward": {"binary": "(margins > 0).astype(float)",
                         "dscores": "binary - I[y] * np.sum(binary, axis=1)[:, None]"},
            "claims": {"W": "X.T.dot(dscores) / N + 2 * reg * W"}, "audit": {"points": 2}}
    assert da.audit(spec)["W"].correct
    wrong = da.audit({**spec, "claims": {"W": "X.T.dot(dscores) / N + reg * W"}})
    assert str(wrong["W"].verdict) == "wrong" and wrong.exit_code == 1


def test_integer_data_are_constants():
    value = parse_array_formula("np.eye(3)[y]", ENV)
    assert all(v.is_Integer for v in value.flat) and value.shape == (4, 3)


@pytest.mark.parametrize("text, cls, message", [
    ("x + w", ShapeError, "shapes (4, 3) and (3, 5) do not broadcast at column 1"),
    ("Q @ w", ShapeError, "'@' of shapes (2, 3, 4) and (3, 5): inner dimensions 4 and 3 differ"),
    ("x[4]", ShapeError, "index [4] does not fit shape (4, 3)"),
    ("x[x > 0]", ParseError, "an index must be known numbers"),
    ("x.reshape(5, -1)", ShapeError, "cannot reshape shape (4, 3) (12 entries) into (5, -1)"),
    ("np.var(x, axis=0, dof=1)", ParseError, "np.var() got an unexpected keyword 'dof' (it takes axis=, ddof=, keepdims=)"),
    ("np.linalg.inv(x)", ParseError, "unknown function 'np.linalg.inv' at column 1; np.linalg.norm is the one"),
    ("norm(x)", ParseError, "unknown function 'norm' at column 1; write np.linalg.norm(...)"),
    ("np.linalg.norm(v, 1)", ParseError, "ord=1 is not supported for a vector norm; only ord=None or 2 at "
                                         "column 1; for the 1-norm write np.sum(np.abs(x))"),
    ("np.linalg.norm(x, ord=np.inf)", ParseError, "ord=np.inf is not supported for a matrix norm"),
    ("np.linalg.norm(Q, 2)", ParseError, "ord=2 needs a 1-D or 2-D array (or axis=), not 3-D"),
    ("x.dtype", UnsafeExpressionError, "attribute access is not allowed"),
    ("x.shape", ParseError, "'x.shape' is a shape (a tuple of sizes), not a value at column 1; use one size, "
                            "e.g. x.shape[0]"),
    ("x.shape * 2", ParseError, "'x.shape' is a shape (a tuple of sizes), not a value"),
    ("x.shape[2]", ShapeError, "index 2 is out of range for a shape of 2 sizes (4, 3)"),
    ("len(s)", ParseError, "len() of a scalar"),
    ("x[[0, True]]", ParseError, "an index list must be a non-empty, rectangular list"),
    ("x[[0, 4]]", ShapeError, "index 4 is out of bounds for axis 0 with size 4"),
    ("np.flatten(x)", ParseError, "'np.flatten' is a method only (NumPy has no np.flatten): write x.flatten()"),
    ("np.squeeze(x, 0)", ShapeError, "squeeze: axis 0 of shape (4, 3) is not of length 1"),
    ("np.trace(v)", ShapeError, "trace needs an array of at least 2 dimensions"),
    ("np.repeat(x, [1, 2], axis=1)", ShapeError, "repeat: 2 repetitions do not fit the 3 entries along axis 1"),
    ("x.sumx()", UnsafeExpressionError, "did you mean .sum()?"),
    ("np.argmax(x, axis=1)", ParseError, "'np.argmax' is not part of the array language: the position of the "
                                         "largest entry is an integer"),
    ("x.argmin()", ParseError, "'x.argmin()' is not part of the array language"),
    ("x > 0 > v", ParseError, "chained comparison is not supported"),
    ("x > 0 and x < 1", ParseError, "'and' is not supported on arrays at column 1; combine comparisons with '&'"),
    ("np.pad(x, 1, mode='edge')", ShapeError, "pad: mode 'edge' is not supported; use mode=\"constant\""),
    ("x.astype(int)", ParseError, "astype() supports float only"),
    ("np.einsum('ij,jk->ik', x, x)", ShapeError, "einsum: index 'j' has sizes 3 and 4"),
    ("np.sum(x, axis=s)", ParseError, "must be a literal whole number (or integer [data])"),
    ("np.newaxis", ParseError, "np.newaxis is an index"),
    ("np", ParseError, "'np' is NumPy itself"),
])
def test_unsupported_constructs_say_what_and_where(text, cls, message):
    with pytest.raises(cls) as info:
        parse_array_formula(text, ENV)
    assert message in str(info.value)


def test_work_is_bounded():
    env = {"A": symbol_array("A", (100, 100))}
    with pytest.raises(Exception, match="scalar operations"):
        parse_array_formula("A @ A", env)
    assert isinstance(parse_array_formula("A[:3, :3] @ A[:3, :3]", env), Array)


@pytest.mark.parametrize("text", [
    "np.outer(np.arange(100000), np.arange(100000))",
    "np.arange(100000)[:, None] + np.arange(100000)",
    "np.eye(100000)",
    "np.ones((100000, 100000))",
    "np.pad(x, 100000)",
    "x[np.arange(100000)[:, None], np.arange(100000)]",
    "np.einsum('ij,kl->ijkl', np.eye(300), np.eye(300))",
    "(np.arange(400) > 0)[:, None] * np.arange(400)",
    "np.tile(x, (1000, 1000))",
    "np.repeat(x, 100000, axis=0)",
    "np.diag(np.arange(1000))",
    "np.triu(np.arange(1000))",
    "np.cumsum(np.arange(2000))",
    "np.ones(np.tile(x, (100, 100)).shape)",
])
def test_nothing_large_is_built(text):
    with pytest.raises(Exception) as info:
        parse_array_formula(text, ENV)
    assert "100000 entries" in str(info.value) or "scalar operations" in str(info.value) or \
        "too large" in str(info.value)
