"""Special functions and activations of the formula language that sympy has not in their real form.

sympy's own classes serve where their meaning is the real function people
use (``erfc``, ``erfinv``, ``gamma``, ``polygamma``, ``zeta``, ``atan2``);
this module adds the three whose sympy form means something else on part of
the real line, and the builders of the composite functions:

- :class:`lgamma` is ``log|Γ(x)|`` (as ``math.lgamma``, ``scipy.special.gammaln``
  and ``torch.lgamma``), real on the whole line except the poles
  ``0, -1, -2, …``; sympy's ``loggamma`` is complex for ``x < 0``.
  ``d/dx lgamma(x) = digamma(x)`` everywhere it is defined.
- :class:`xlogy` is ``x·log(y)`` with ``xlogy(0, y) = 0`` (as
  ``scipy.special.xlogy``, ``torch.xlogy``), so ``0·log 0`` is 0.
- :class:`cbrt` is the real cube root, ``-cbrt(-x)`` for ``x < 0``; sympy's
  ``cbrt(x) = x**(1/3)`` is the principal, complex one there.

Numbers follow the libraries: ``sinc`` is NumPy's and PyTorch's normalised
``sin(πx)/(πx)`` (sympy's ``sinc`` is ``sin(x)/x``), ``gelu`` the erf form
and ``gelu_tanh`` PyTorch's ``approximate="tanh"`` form, ``selu`` has the
constants of Klambauer et al. as PyTorch prints them, ``leaky_relu``'s slope
defaults to PyTorch's 0.01 and ``elu``'s ``alpha`` to 1.  The kinked
activations (``elu``, ``selu``, ``leaky_relu``) are built of ``max``/``min``,
so their kinks are the language's ordinary switching points.

>>> x = sp.Symbol("x", real=True)
>>> lgamma(x).diff(x), xlogy(0, x), cbrt(-8)
(polygamma(0, x), 0, -2)
"""

from __future__ import annotations

import math

import sympy as sp

from derivaudit.limits import DEFAULT_LIMITS

__all__ = ["lgamma", "xlogy", "cbrt", "gamma", "zeta", "sinc", "polygamma", "digamma", "gelu", "gelu_tanh", "silu", "softsign",
           "elu", "selu", "leaky_relu", "logit", "logaddexp", "hypot", "exp2", "SELU_SCALE", "SELU_ALPHA"]

#: the constants of SELU, as PyTorch's documentation prints them (exact decimals)
SELU_SCALE = sp.Rational("1.0507009873554804934193349852946")
SELU_ALPHA = sp.Rational("1.6732632423543772848170429916717")
#: the cubic coefficient of the tanh approximation of GELU
_GELU_CUBIC = sp.Rational("0.044715")


def _is_pole(z) -> bool:
    return bool(z.is_integer and z.is_nonpositive)


class lgamma(sp.Function):
    """``log|Γ(x)|``: real for every real ``x`` but the poles ``0, -1, -2, …``."""

    nargs = 1

    @classmethod
    def eval(cls, z):
        if _is_pole(z):
            return sp.zoo
        if z in (sp.Integer(1), sp.Integer(2)):
            return sp.S.Zero
        return None

    def _eval_is_extended_real(self):
        z = self.args[0]
        if z.is_extended_real and not _is_pole(z) and (z.is_integer is False or z.is_positive):
            return True
        return None

    def fdiff(self, argindex=1):
        return sp.polygamma(0, self.args[0])

    def _mpmathcode(self, printer):
        # re(loggamma(x)) is log|Γ(x)| on the real line: mpmath's loggamma adds iπk for x < 0
        z = printer._print(self.args[0])
        return f"{printer._module_format('mpmath.re')}({printer._module_format('mpmath.loggamma')}({z}))"

    def _numpycode(self, printer):
        return f"lgamma({printer._print(self.args[0])})"


class xlogy(sp.Function):
    """``x·log(y)``, and 0 where ``x = 0`` (whatever ``y``)."""

    nargs = 2

    @classmethod
    def eval(cls, x, y):
        if x.is_zero or y == 1:
            return sp.S.Zero
        if x.is_number and y.is_number and x.is_zero is False:
            return x * sp.log(y)
        return None

    def fdiff(self, argindex=1):
        x, y = self.args
        return sp.log(y) if argindex == 1 else x / y

    def _piecewise(self):
        x, y = self.args
        return sp.Piecewise((sp.S.Zero, sp.Eq(x, 0)), (x * sp.log(y), True))

    def _mpmathcode(self, printer):
        return printer._print(self._piecewise())

    def _numpycode(self, printer):
        return f"xlogy({printer._print(self.args[0])}, {printer._print(self.args[1])})"


class cbrt(sp.Function):
    """The real cube root: ``cbrt(-x) = -cbrt(x)``."""

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_number and z.is_extended_nonnegative:
            return z ** sp.Rational(1, 3)
        if z.is_number and z.is_extended_negative:
            return -((-z) ** sp.Rational(1, 3))
        if z.could_extract_minus_sign():
            return -cls(-z)
        if z.is_nonnegative:
            return z ** sp.Rational(1, 3)
        return None

    def _eval_is_extended_real(self):
        return True if self.args[0].is_extended_real else None

    def fdiff(self, argindex=1):
        return 1 / (3 * cbrt(self.args[0]) ** 2)

    def _mpmathcode(self, printer):
        z = self.args[0]
        return printer._print(sp.sign(z) * sp.Abs(z) ** sp.Rational(1, 3))

    def _numpycode(self, printer):
        return f"{printer._module_format('numpy.cbrt')}({printer._print(self.args[0])})"


#: beyond this size a rational argument of gamma, polygamma or zeta is left unevaluated: sympy would
#: compute gamma(10**6) = 999999! or harmonic(10**6) exactly, in C, past every time budget
_EVALUATED_UP_TO = 1000


def _modest(*args) -> bool:
    return not any(a.is_Rational and (abs(a.p) > _EVALUATED_UP_TO or a.q > _EVALUATED_UP_TO) for a in args)


def gamma(z):
    return sp.gamma(z, evaluate=_modest(z))


def zeta(s, a=None):
    args = (s,) if a is None else (s, a)
    return sp.zeta(*args, evaluate=_modest(*args))


def sinc(z):
    """NumPy's normalised ``sinc(z) = sin(πz)/(πz)`` (1 at 0), as sympy's ``sinc(πz)``."""
    return sp.sinc(sp.pi * z)


def polygamma(n, z):
    """``polygamma(n, z)``, the ``n``-th derivative of digamma: ``n`` a whole number ≥ 0."""
    if not (n.is_Integer and n >= 0):
        raise ValueError(f"polygamma's order must be a whole number 0, 1, 2, …, not {n}")
    return sp.polygamma(n, z, evaluate=_modest(n, z))


def digamma(z):
    return polygamma(sp.Integer(0), z)


def gelu(z):
    """``z·Φ(z) = z/2·(1 + erf(z/√2))``, the exact GELU."""
    return z / 2 * (1 + sp.erf(z / sp.sqrt(2)))


def gelu_tanh(z):
    """PyTorch's ``gelu(approximate="tanh")``: ``z/2·(1 + tanh(√(2/π)·(z + 0.044715·z³)))``."""
    return z / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (z + _GELU_CUBIC * z ** 3)))


def silu(z):
    """``z·sigmoid(z)`` (swish)."""
    return z / (1 + sp.exp(-z))


def softsign(z):
    # the sign taken out of abs first, as the language's abs does (a canonical tree prints back the same)
    return z / (1 + sp.Abs(-z if z.could_extract_minus_sign() else z))


def elu(z, alpha=sp.S.One):
    """``z`` for ``z > 0``, ``alpha·(exp(z) − 1)`` else: ``max(z, 0) + alpha·(exp(min(z, 0)) − 1)``."""
    return sp.Max(z, 0) + alpha * (sp.exp(sp.Min(z, 0)) - 1)


def selu(z):
    """``scale·elu(z, alpha)`` with SELU's two constants."""
    return SELU_SCALE * elu(z, SELU_ALPHA)


def leaky_relu(z, slope=sp.Rational(1, 100)):
    """``z`` for ``z > 0``, ``slope·z`` else: ``max(z, 0) + slope·min(z, 0)``."""
    return sp.Max(z, 0) + slope * sp.Min(z, 0)


def logit(p):
    """``log(p/(1 − p))``, real on ``(0, 1)``."""
    return sp.log(p / (1 - p))


def logaddexp(a, b):
    return sp.log(sp.exp(a) + sp.exp(b))


def hypot(a, b):
    return sp.sqrt(a ** 2 + b ** 2)


def exp2(z):
    """``2**z``; an exact power too large to write (as ``2**n`` typed is) is refused, not computed."""
    if z.is_Rational and abs(z) * math.log10(2) + 1 > DEFAULT_LIMITS.max_constant_digits:
        raise ValueError(f"exp2({z}) has about {int(abs(z) * math.log10(2))} digits "
                         f"(limit {DEFAULT_LIMITS.max_constant_digits})")
    return 2 ** z
