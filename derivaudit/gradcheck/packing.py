"""The parameters of a check as one flat vector: one array, a tuple of arrays or a dict of named arrays.

A gradient check perturbs one entry at a time, so it works on a flat vector
θ; :class:`Packing` turns it back into what the user's code takes (an array,
a tuple, a dict ``{"W1": ..., "b1": ...}``; NumPy, torch or jax arrays) and
turns the gradients the code returns (an array, a tuple, a dict keyed by the
same names or by ``"d" + name``) into one flat vector in the same order.
Framework arrays are read through the array protocols (``__array__``,
``.detach()``): no torch or jax import here.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass

import numpy as np

from derivaudit.errors import DerivauditError, DomainError, ShapeError

__all__ = ["Packing", "to_numpy", "is_floating", "framework_of", "argument_names", "finite_float64"]


def argument_names(fn, count: int) -> list[str]:
    """Names of ``fn``'s first ``count`` positional parameters (``input k`` where it has none)."""
    try:
        parameters = [p.name for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        parameters = []
    return [parameters[k] if k < len(parameters) else f"input {k}" for k in range(count)]


def framework_of(value) -> str:
    """``"numpy"``, ``"torch"`` or ``"jax"``: whose array ``value`` is (by its type's module)."""
    module = type(value).__module__ or ""
    if module.startswith("torch"):
        return "torch"
    if module.startswith("jax") or module.startswith("jaxlib"):
        return "jax"
    return "numpy"


def to_numpy(value):
    """A NumPy view of a NumPy, torch (detached, on the CPU) or jax array; other values unchanged."""
    if hasattr(value, "detach") and framework_of(value) == "torch":
        value = value.detach().cpu()
    if framework_of(value) != "numpy" or isinstance(value, (list, tuple)):
        return np.asarray(value)
    return value


def is_floating(value) -> bool:
    """True for a floating-point array (NumPy, torch, jax); integer arrays and non-arrays are held fixed."""
    if framework_of(value) != "numpy":
        return hasattr(value, "dtype") and "float" in str(value.dtype)
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def finite_float64(array, not_real: str, not_finite: str) -> np.ndarray:
    """``array`` as a float64 ndarray of finite numbers; ``not_real`` / ``not_finite`` say
    (in one line each) what was wrong otherwise."""
    try:
        array = np.array(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DerivauditError(f"{not_real} ({exc})") from None
    if not np.all(np.isfinite(array)):
        raise DomainError(not_finite)
    return array


def _native(array: np.ndarray, framework: str, like):
    """``array`` back in the caller's framework (float64), so the user's code gets what it expects."""
    if framework == "torch":
        return sys.modules["torch"].as_tensor(array)
    if framework == "jax":
        return sys.modules["jax.numpy"].asarray(array)
    return array


@dataclass(frozen=True)
class Packing:
    """How a flat θ maps to the user's structure: ``kind`` is ``array``, ``tuple`` or ``dict``."""

    kind: str
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    frameworks: tuple[str, ...]
    float32: tuple[str, ...]

    @classmethod
    def of(cls, value, names: tuple[str, ...] | None = None, named_by=None) -> tuple[Packing, np.ndarray]:
        """The packing of ``value`` and its entries as one flat float64 vector (a copy).

        A tuple's parts are called ``names``, else by ``named_by``'s parameters.
        """
        if isinstance(value, dict):
            kind, keys, items = "dict", tuple(str(k) for k in value), list(value.values())
        elif isinstance(value, tuple) and any(hasattr(v, "shape") or isinstance(v, (list, tuple)) for v in value):
            kind, items = "tuple", list(value)
            keys = names or tuple(argument_names(named_by, len(items)) if named_by is not None
                                  else (f"input {k}" for k in range(len(items))))
        else:
            kind, keys, items = "array", ("θ",), [value]
        arrays, frameworks, float32 = [], [], []
        for key, item in zip(keys, items):
            frameworks.append(framework_of(item))
            array = to_numpy(item)
            if isinstance(array, np.ndarray) and array.dtype == np.float32:
                float32.append(key)
            arrays.append(finite_float64(array, f"{key} must be an array of real numbers",
                                         f"{key} contains infinite or NaN entries"))
        if sum(a.size for a in arrays) == 0:
            raise ShapeError("theta is empty; give at least one parameter")
        flat = np.concatenate([a.ravel() for a in arrays])
        return cls(kind, keys, tuple(a.shape for a in arrays), tuple(frameworks), tuple(float32)), flat

    @property
    def plain(self) -> bool:
        """One NumPy array: the flat vector only needs a reshape."""
        return self.kind == "array" and self.frameworks[0] == "numpy"

    @property
    def size(self) -> int:
        return sum(int(np.prod(s)) for s in self.shapes)

    def bounds(self):
        """``(name, shape, start, stop)`` of each part in the flat vector."""
        start = 0
        for name, shape in zip(self.names, self.shapes):
            stop = start + int(np.prod(shape))
            yield name, shape, start, stop
            start = stop

    def unflatten(self, flat: np.ndarray, native: bool = True):
        """The user's structure holding ``flat``'s entries (views: the caller owns ``flat``)."""
        parts = [flat[a:b].reshape(shape) for _, shape, a, b in self.bounds()]
        if native and flat.dtype != object:
            parts = [p if fw == "numpy" else _native(p, fw, None) for p, fw in zip(parts, self.frameworks)]
        if self.kind == "array":
            return parts[0]
        if self.kind == "tuple":
            return tuple(parts)
        return dict(zip(self.names, parts))

    def label(self, flat_index: int):
        """The index tuple of a flat entry, with the part's name when there are several parts."""
        for name, shape, a, b in self.bounds():
            if a <= flat_index < b:
                index = tuple(int(i) for i in np.unravel_index(flat_index - a, shape))
                return index if self.kind == "array" else (name, index)
        raise IndexError(flat_index)

    def gradient_parts(self, gradient, who: str = "grad_f") -> list:
        """The gradients ``who`` returned, one per part, in order (dict keys ``name`` or ``"d" + name``)."""
        if self.kind == "array":
            return [gradient]
        if self.kind == "dict":
            if not isinstance(gradient, dict):
                raise ShapeError(f"{who} must return a dict keyed by the parameter names (or 'd' + name), "
                                 f"not a {type(gradient).__name__}")
            parts = []
            for name in self.names:
                key = name if name in gradient else "d" + name
                if key not in gradient:
                    raise ShapeError(f"{who} returned no gradient for {name!r} (looked for {name!r} and 'd{name}')")
                parts.append(gradient[key])
            return parts
        items = list(gradient) if isinstance(gradient, (tuple, list)) else [gradient]
        if len(items) != len(self.names):
            raise ShapeError(f"{who} returned {len(items)} gradient{'s' * (len(items) != 1)}, but there "
                             f"{'are' if len(self.names) != 1 else 'is'} {len(self.names)} floating-point "
                             f"input{'s' * (len(self.names) != 1)} ({', '.join(self.names)})")
        return items

    def flatten_gradient(self, gradient, who: str = "grad_f", balls: bool = False) -> np.ndarray:
        """``gradient`` (the structure ``who`` returned) as one flat vector: float64, or balls if ``balls``."""
        flats = []
        for (name, shape, _, _), part in zip(self.bounds(), self.gradient_parts(gradient, who)):
            array = to_numpy(part)
            if balls:
                from derivaudit.gradcheck.lifted import as_balls
                array = as_balls(array)
            else:
                array = finite_float64(array, f"{who} must return arrays of real numbers",
                                       f"{who} returned infinite or NaN entries")
            flats.append(self._shaped(array, shape, name, who).ravel())
        return np.concatenate(flats) if flats else np.zeros(0)

    def _shaped(self, array: np.ndarray, shape: tuple[int, ...], name: str, who: str) -> np.ndarray:
        if array.shape == shape:
            return array
        what = "theta" if self.kind == "array" else name
        message = f"{who} returned shape {array.shape}, but {what} has shape {shape}"
        if array.size != int(np.prod(shape)):
            raise ShapeError(message)
        transposed = array.ndim == 2 and array.shape[::-1] == shape
        raise ShapeError(message + ("; it looks transposed" if transposed else f"; reshape it to {what}'s shape"))
