"""Issue 25 item 11: ``np.array([...])`` of scalar expressions (and of arrays) in specs, as NumPy builds it."""

import numpy as np
import pytest
import sympy as sp

from derivaudit.errors import ShapeError
from derivaudit.lang.array_walker import parse_array_formula
from derivaudit.lang.arrays import entries, shape_of, symbol_array

RNG = np.random.default_rng(3)
SHAPES = {"x": (4, 8), "G": (4, 6), "v": (3,)}
VALUES = {name: RNG.uniform(-1, 1, size=shape) for name, shape in SHAPES.items()}
ENV = {name: symbol_array(name, shape) for name, shape in SHAPES.items()}
SUBS = {s: sp.Float(float(v), 30) for name in SHAPES
        for s, v in zip(entries(ENV[name]), VALUES[name].reshape(-1))}


def _ours(text):
    value = parse_array_formula(text, ENV)
    numbers = [float(sp.N(e.xreplace(SUBS), 20)) for e in entries(value)]
    return np.array(numbers).reshape(shape_of(value))


@pytest.mark.parametrize("text", [
    # a hand-written conv1d weight gradient
    "np.array([np.sum(G * x[:, 0:6]), np.sum(G * x[:, 1:7]), np.sum(G * x[:, 2:8])])",
    "np.array([v[0] * 2, v[1] + v[2]])",
    "np.array([[v[0], v[1]], [v[2], 1]])",
    "np.array([v, 2 * v])",
    "np.array((v[0], v[2]))",
    "np.array(v) * 3",
    "numpy.array([v[1], 0.5], dtype=float)",
    "np.asarray([v[0], v[1]])",
])
def test_array_literals_are_numpy(text):
    expected = np.asarray(eval(text, {"np": np, "numpy": np, **VALUES}), dtype=float)
    got = _ours(text)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=1e-14, atol=1e-14)


def test_ragged_array_literal_is_a_shape_error():
    with pytest.raises(ShapeError, match="np.array"):
        parse_array_formula("np.array([v, v[0]])", ENV)
