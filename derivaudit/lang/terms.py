"""Products and sums of model entries, built without sympy's general flattening where its result is known.

A matrix product of a 64×32 by a 32×16 array of symbols builds 32,768
products ``W[i,j]·X[j,k]`` and 1,024 sums of 32 of them; through
``a * b`` and ``sp.Add(*terms)`` each goes through ``Mul.flatten`` /
``Add.flatten`` (collecting powers and coefficients, distributing numbers),
which is most of the time an audit of a real-sized network spends before
its first number.  For the operands such a product actually has, the
flattened result is already known:

- ``a · b`` with ``a`` and ``b`` each a commutative ``Symbol`` or ``Add``, and
  ``a ≠ b``: nothing combines (no number to distribute, no common base), so
  the product is ``Mul`` of the two, in sympy's canonical order
  (``Basic.compare``, what ``Mul.flatten`` sorts by);
- ``t₁ + … + tₙ`` of distinct terms, each a ``Symbol`` or a ``Mul`` whose
  first factor is not a number: no two terms share a monomial (so nothing
  collects), and the sum is ``Add`` of them in canonical order.

Anything else goes to sympy.  The result is the same object sympy builds
(the same arguments in the same order), so equal expressions stay equal and
hash alike: ``tests/test_fast_path_twins.py`` compares both ways.

>>> x, y, z = sp.symbols("x y z", real=True)
>>> product(y, x) == y * x, product(x, y + z) == x * (y + z)
(True, True)
>>> total([product(x, y), product(y, z), z]) == x * y + y * z + z
True
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp
from sympy.core.add import Add
from sympy.core.mul import Mul

__all__ = ["product", "total", "product_ufunc"]

#: sympy's canonical order of the arguments of a sum or a product (``_args_sortkey`` in sympy.core)
_CANONICAL = functools.cmp_to_key(sp.Basic.compare)


def product(a, b):
    """``a · b`` as sympy builds it, directly for two distinct symbols or sums."""
    if a is not b and _plain_factor(a) and _plain_factor(b) and a != b:
        return Mul._from_args((a, b) if _CANONICAL(a) < _CANONICAL(b) else (b, a))
    return a * b


def total(terms):
    """``sp.Add(*terms)`` as sympy builds it, directly for distinct monomials without coefficients."""
    terms = list(terms)
    if len(terms) > 1 and all(_plain_term(t) for t in terms) and len(set(terms)) == len(terms):
        return Add._from_args(sorted(terms, key=_CANONICAL))
    return sp.Add(*terms)


#: :func:`product` elementwise over NumPy object arrays, with broadcasting
product_ufunc = np.frompyfunc(product, 2, 1)


def _plain_factor(e) -> bool:
    return type(e) in (sp.Symbol, Add) and e.is_commutative is True


def _plain_term(e) -> bool:
    if type(e) is sp.Symbol:
        return e.is_commutative is True
    return type(e) is Mul and not e.args[0].is_Number and e.is_commutative is True
