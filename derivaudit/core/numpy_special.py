"""The special functions for float64 code compiled from formulas (``sympy.lambdify`` to NumPy).

sympy prints ``erf``, ``gamma``, ``polygamma``, ``zeta``, ``erfinv`` and the
language's ``lgamma`` and ``xlogy`` by name; NumPy has none of them (SciPy,
which has, is not a dependency), and the ``math`` module takes scalars only.
:data:`NUMPY_SPECIAL` maps each name to an elementwise function on arrays:
``math``'s where it has the function (erf, erfc, gamma, lgamma), mpmath's at
53 bits otherwise, rounded to the nearest double — what a float64 program
calling SciPy gets, within an ulp or two.  Complex arrays (the float64 complex
step) go through mpmath.  A point outside the real domain gives NaN, as
NumPy's own functions do, and the caller reports it.

>>> import numpy as np
>>> NUMPY_SPECIAL["lgamma"](np.array([-0.5, 3.0])).round(6).tolist()
[1.265512, 0.693147]
"""

from __future__ import annotations

import math
from typing import Callable

import mpmath
import numpy as np

__all__ = ["NUMPY_SPECIAL"]


def _real(function: Callable) -> Callable:
    def safe(*args):
        try:
            return float(function(*args))
        except (ValueError, OverflowError, ZeroDivisionError, TypeError):
            return math.nan
    return safe


def _elementwise(real: Callable, complex_: Callable) -> Callable:
    real_safe = _real(real)

    def apply(*args):
        arrays = [np.asarray(a) for a in args]
        if any(np.iscomplexobj(a) for a in arrays):
            with mpmath.workprec(53):
                return np.vectorize(lambda *v: complex(complex_(*v)), otypes=[complex])(*arrays)
        with mpmath.workprec(53):
            return np.vectorize(real_safe, otypes=[float])(*arrays)
    return apply


def _lgamma(x):
    return math.lgamma(x)


def _xlogy(x, y):
    return 0.0 if x == 0 else x * math.log(y)


def _zeta(s, a=1):
    return mpmath.zeta(s, a)


#: name → elementwise function on NumPy arrays, for ``sympy.lambdify(..., modules=[NUMPY_SPECIAL, "numpy"])``
NUMPY_SPECIAL: dict[str, Callable] = {
    "erf": _elementwise(math.erf, mpmath.erf),
    "erfc": _elementwise(math.erfc, mpmath.erfc),
    "erfinv": _elementwise(mpmath.erfinv, mpmath.erfinv),
    "gamma": _elementwise(math.gamma, mpmath.gamma),
    "lgamma": _elementwise(_lgamma, mpmath.loggamma),
    "polygamma": _elementwise(mpmath.polygamma, mpmath.polygamma),
    "zeta": _elementwise(_zeta, _zeta),
    "xlogy": _elementwise(_xlogy, lambda x, y: 0 if x == 0 else x * mpmath.log(y)),
}
