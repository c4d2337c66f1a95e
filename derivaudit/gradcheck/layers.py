"""Check a layer's backward pass in the CS231n convention: ``forward(*inputs)``, ``backward(dout, cache)``.

The layer's output ``out`` is turned into a scalar with a random upstream
gradient ``dout`` (seeded): ``L(inputs) = Σ out ∘ dout``.  The gradient of
``L`` with respect to each floating-point input is exactly what
``backward(dout, cache)`` must return, so each is checked like
:func:`~derivaudit.check_gradient` (in float64, or on 50-digit balls with
``precision="mp"``).  Integer inputs (labels, word indices) and non-array
inputs (``conv_param``, ``bn_param``) are held fixed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from derivaudit.errors import DerivauditError
from derivaudit.gradcheck.engine import Problem, run_check
from derivaudit.gradcheck.packing import Packing, argument_names, framework_of, is_floating, to_numpy
from derivaudit.gradcheck.results import GradientCheckResult

__all__ = ["check_layer"]


def _split(result):
    """``(out, cache)`` from what forward returned; a bare output has no cache."""
    if isinstance(result, tuple) and len(result) == 2:
        return result
    return result, None


def _native_like(array: np.ndarray, example):
    framework = framework_of(example)
    if framework == "torch":
        import sys
        torch = sys.modules["torch"]
        return torch.as_tensor(array)
    return array


def check_layer(forward: Callable, backward: Callable, *inputs, precision: str = "float64", dps: int = 50,
                seed: int = 0, eps: float | None = None) -> GradientCheckResult:
    """Check ``backward`` against the true gradient of ``forward`` at ``inputs``.

    ``forward(*inputs)`` returns ``out`` or ``(out, cache)``;
    ``backward(dout, cache)`` returns the gradients of the floating-point
    inputs in order (one array, or a tuple); with no cache it is called as
    ``backward(dout, inputs)``.  ``dout`` is standard normal (``seed``), the
    checked scalar ``Σ out ∘ dout``, whose gradient is ``backward``'s result.

    Parameters
    ----------
    forward, backward : callable
        The layer (NumPy, torch or jax arrays).
    *inputs
        Arrays and other arguments of ``forward``; floating-point arrays are
        checked, everything else (integer labels, dicts of settings) is
        passed unchanged every time.
    precision, dps, eps
        As for :func:`~derivaudit.check_gradient`: ``"mp"`` runs both passes
        on balls of ``dps`` digits.
    seed : int
        Seed of ``dout``.

    Returns
    -------
    GradientCheckResult
        ``.ok``, ``.gradients`` (one result per floating input, named by
        ``forward``'s parameters in ``.parts``), ``.wrong`` as
        ``(name, index)`` pairs, ``.summary()``.

    >>> import numpy as np, derivaudit as da
    >>> def affine_forward(x, w, b):
    ...     return x @ w + b, (x, w)
    >>> def affine_backward(dout, cache):
    ...     x, w = cache
    ...     return dout @ w.T, x.T @ dout, dout.sum(axis=0)
    >>> rng = np.random.default_rng(1)
    >>> r = da.check_layer(affine_forward, affine_backward, rng.normal(size=(3, 4)),
    ...                    rng.normal(size=(4, 2)), rng.normal(size=2))
    >>> r.ok, list(r.parts), [g.verdict for g in r.gradients]
    (True, ['x', 'w', 'b'], ['fine', 'fine', 'fine'])
    """
    floating = [k for k, value in enumerate(inputs) if is_floating(value)]
    if not floating:
        raise DerivauditError("check_layer needs at least one floating-point array among the inputs "
                              "(integer arrays and settings are held fixed)")
    names = argument_names(forward, len(inputs))
    packing, theta = Packing.of(tuple(inputs[k] for k in floating), tuple(names[k] for k in floating))
    out0, _ = _split(forward(*[copy.deepcopy(v) for v in inputs]))
    dout = np.random.default_rng(seed).standard_normal(np.shape(to_numpy(out0)))

    def arguments(values) -> list:
        args = [copy.copy(v) if isinstance(v, (dict, list)) else v for v in inputs]
        for k, value in zip(floating, values):
            args[k] = value
        return args

    def value(values, const):
        out, _ = _split(forward(*arguments(values)))
        out = to_numpy(out) if framework_of(out) != "numpy" else out
        return np.sum(out * const(dout))

    def gradient(values, const):
        args = arguments(values)
        out, cache = _split(forward(*args))
        upstream = _native_like(const(dout), out)
        return backward(upstream, cache if cache is not None else tuple(args))

    problem = Problem(packing, theta, value, gradient, functions=(forward, backward), who="backward",
                      name="forward")
    return run_check(problem, precision=precision, dps=dps, eps=eps, sweep=False, seed=seed)
