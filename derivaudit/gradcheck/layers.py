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
from derivaudit.gradcheck.engine import Problem, copied, run_check
from derivaudit.gradcheck.packing import Packing, argument_names, framework_of, is_floating, to_numpy
from derivaudit.gradcheck.results import GradientCheckResult

__all__ = ["check_layer", "check_double_backward"]


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
                seed: int = 0, eps: float | None = None, order: int = 1,
                double_backward: Callable | None = None) -> GradientCheckResult:
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
        Seed of ``dout`` (and of ``ddin`` for ``order=2``).
    order : 1 or 2
        ``2`` checks ``double_backward`` against the derivative of
        ``backward`` instead (the convention of
        :func:`check_double_backward`, like PyTorch's ``gradgradcheck``).
    double_backward : callable
        With ``order=2``: ``double_backward(ddin, dout, cache)`` → the
        gradients of ``Σₖ ⟨backward(dout, cache)ₖ, ddinₖ⟩`` with respect to
        the floating inputs and then ``dout``.

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
    if order == 2:
        return check_double_backward(forward, backward, double_backward, inputs, precision=precision, dps=dps,
                                     seed=seed, eps=eps)
    if order != 1 or double_backward is not None:
        raise DerivauditError(f"order must be 1 or 2 (double_backward with order=2 only), not {order!r}")
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


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def check_double_backward(forward: Callable, backward: Callable, double_backward: Callable | None, inputs: tuple,
                          *, precision: str = "float64", dps: int = 50, seed: int = 0,
                          eps: float | None = None) -> GradientCheckResult:
    """Check a layer's double backward: the derivative of ``backward`` itself (``check_layer(..., order=2)``).

    The convention: ``backward(dout, cache)`` is a function of the floating
    inputs ``x₁ … x_m`` (through ``cache``) and of ``dout``.  With random
    cotangents ``ddinₖ`` shaped like ``xₖ`` (seed ``seed + 1``) the checked
    scalar is

        L₂(x₁ … x_m, dout) = Σₖ ⟨backward(dout, cache(x))ₖ, ddinₖ⟩,

    and ``double_backward(ddin, dout, cache)`` must return its gradient: one
    array per floating input, then one for ``dout`` (``ddin`` is a tuple when
    ``backward`` returns one, else one array).  The ``dout`` part is the
    forward Jacobian applied to ``ddin``; the input parts are the second
    derivatives — where a double backward that treats saved tensors as
    constants (PyTorch's silently wrong custom Functions) drops terms.  As
    ``gradgradcheck``, this checks ``double_backward`` against ``backward``;
    check ``backward`` itself with ``order=1``.  The result names the parts by
    ``forward``'s parameters and ``"dout"``.
    """
    if double_backward is None:
        raise DerivauditError("order=2 checks a double backward: pass double_backward=fn, called as "
                              "fn(ddin, dout, cache) and returning the gradients of the inputs and of dout")
    floating = [k for k, value in enumerate(inputs) if is_floating(value)]
    if not floating:
        raise DerivauditError("check_layer needs at least one floating-point array among the inputs")
    names = argument_names(forward, len(inputs))
    out0, cache0 = _split(forward(*[copy.deepcopy(v) for v in inputs]))
    rng = np.random.default_rng(seed)
    dout = rng.standard_normal(np.shape(to_numpy(out0)))
    first = backward(copied(_native_like(dout, out0)), copied(cache0 if cache0 is not None else tuple(inputs)))
    grads0, single = _as_tuple(first), not isinstance(first, (tuple, list))
    ddin = tuple(np.random.default_rng(seed + 1).standard_normal(np.shape(to_numpy(g))) for g in grads0)
    values0 = tuple(inputs[k] for k in floating) + (dout,)
    packing, theta = Packing.of(values0, tuple(names[k] for k in floating) + ("dout",))

    def state(values):
        args = [copy.copy(v) if isinstance(v, (dict, list)) else v for v in inputs]
        for k, value in zip(floating, values[:-1]):
            args[k] = value
        out, cache = _split(forward(*args))
        return out, (cache if cache is not None else tuple(args)), _native_like(values[-1], out)

    def value(values, const):
        out, cache, upstream = state(values)
        # backward's own copies: its in-place work on dout or the cache is legal (only forward's
        # changes to its inputs are refused, as in order=1)
        grads = _as_tuple(backward(copied(upstream), copied(cache)))
        if len(grads) != len(ddin):
            raise DerivauditError(f"backward returned {len(grads)} gradients here but {len(ddin)} at the point")
        return sum(np.sum((to_numpy(g) if framework_of(g) != "numpy" else g) * const(d)) for g, d in zip(grads, ddin))

    def gradient(values, const):
        out, cache, upstream = state(values)
        cotangents = tuple(_native_like(const(d), out) for d in ddin)
        return double_backward(cotangents[0] if single else cotangents, upstream, cache)

    problem = Problem(packing, theta, value, gradient, functions=(forward, backward, double_backward),
                      who="double_backward", name="forward")
    return run_check(problem, precision=precision, dps=dps, eps=eps, sweep=False, seed=seed)
