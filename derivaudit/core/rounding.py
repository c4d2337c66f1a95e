"""Correctly rounded decimals of balls: the digits a table prints, each one proved.

A ball ``[m − r, m + r]`` *decides* its rounding to ``d`` significant digits
when every real number in it rounds to the same ``d``-digit decimal
``N·10^E`` (round half to even).  That decimal is then the correctly rounded
value of the number the ball encloses, whatever the ball's precision: no
binary rounding sits between the ball and the printed text (a binary
rounding followed by a decimal one can end in the other neighbour of the
true value, within one unit but not correctly rounded).

:func:`rounded_decimal` returns ``(N, E)`` or None when the ball straddles a
rounding boundary (``…5000`` in the ``d+1``-th digit, or a power of 10):
the caller raises the precision and asks again.  :func:`decimal_mpf` turns
``N·10^E`` into the ``mpf`` a table holds, at ``dps_to_prec(d)`` bits:
``2^(p−1) > 10^d``, so printing it back to ``d`` digits gives ``N`` (the
binary rounding is under a tenth of a unit of the ``d``-th digit).
:func:`rounded_raw` gives the table's raw tuple directly, and :func:`rounded_raws`
the same for many balls in one loop (a study's common rows).

>>> from flint import arb
>>> rounded_decimal(arb(1) / 3, 5), rounded_decimal(arb("0.125"), 2), rounded_decimal(arb(-999996), 5)
((33333, -5), (12, -2), (-10000, 2))
>>> rounded_decimal(arb("0.125", 1e-30), 2) is None   # a tie the ball cannot decide
True
>>> rounded_decimal(arb((2 ** 197 + 1, -200)), 2)   # 1/8 + 2^-200 exactly: a tie missed, just
(13, -2)
"""

from __future__ import annotations

import mpmath
from mpmath.libmp import dps_to_prec, from_man_exp, fzero, round_nearest

__all__ = ["rounded_decimal", "rounded_raw", "rounded_raws", "decimal_mpf", "decimal_raw"]

#: extra decimal digits asked of the midpoint: the decision is lost only within
#: about 10^-(d + _GUARD) of a boundary, where the ball is then not trusted
_GUARD = 6


#: 10^n for the digit counts tables use (larger powers are computed)
_POW10 = [10 ** n for n in range(1200)]
#: 2·10^n (the scale of z in :func:`_far_from_ties`)
_TWICE_POW10 = [p << 1 for p in _POW10]


def _power(n: int) -> int:
    return _POW10[n] if n < 1200 else 10 ** n


def rounded_decimal(ball, digits: int) -> tuple[int, int] | None:
    """``(N, E)`` with ``N·10^E`` every point of ``ball`` rounded to ``digits`` significant
    digits (``|N| < 10^digits``; ``(0, 0)`` for an exact 0); None when the ball does not
    decide the rounding (it straddles a boundary, or 0)."""
    decided = _rounded(ball, digits, digits + _GUARD)
    if decided is not False:
        return decided
    # undecided at the guard digits: near a tie, the ball may still decide it with all the
    # digits it knows (the conversion's own rounding was what straddled the boundary)
    if ball.is_exact():  # m·2^e has at most -e digits after the point: all of them, exactly
        man, exp = ball.mid().man_exp()
        known = int(int(man).bit_length() * 0.30103) + max(0, -int(exp)) + 3
    else:
        known = int(ball.rel_accuracy_bits() * 0.30103) + 3
    decided = _rounded(ball, digits, known) if known > digits + _GUARD else False
    return None if decided is False else decided


def _rounded(ball, digits: int, converted: int):
    """:func:`rounded_decimal` from the ball's decimal enclosure to ``converted`` digits;
    False when that enclosure does not decide."""
    mid, rad, exp = ball.mid_rad_10exp(converted)
    a, rad = int(mid), int(rad)
    if a <= 0:
        if not a:
            return (0, 0) if not rad else False
        a = -a
    low, high = a - rad, a + rad
    size = (high.bit_length() * 1233) >> 12  # ≈ bits·log10(2), at most one too small
    if high >= _power(size):
        size += 1
    if low < _power(size - 1):  # straddles a power of 10 (or 0): the unit itself is undecided
        return False
    drop = size - digits
    if drop <= 0:
        if rad:
            return False
        n, e = a * _power(-drop), int(exp) + drop
    else:
        unit = _power(drop)
        half = unit >> 1
        n, rest = divmod(low + half, unit)
        if rad:
            if (high + half) // unit != n:
                return False
        elif not rest and n & 1:  # an exact tie: to even
            n -= 1
        e = int(exp) + drop
        if n == _power(digits):
            n, e = n // 10, e + 1
    return (-n if mid < 0 else n), e


def decimal_raw(n: int, e: int, digits: int, prec: int = 0) -> tuple:
    """``N·10^E`` as a raw mpf tuple at ``prec`` bits (default ``dps_to_prec(digits)``),
    rounded to nearest once."""
    if not n:
        return fzero
    prec = prec or dps_to_prec(digits)
    if e >= 0:
        return from_man_exp(n * (_POW10[e] if e < 1200 else 10 ** e), 0, prec, round_nearest)
    # N / 10^-E to prec + 2 bits or more, and a sticky bit for the rest: one correct rounding
    divisor = _POW10[-e] if e > -1200 else 10 ** -e
    a = -n if n < 0 else n
    shift = prec + 2 + divisor.bit_length() - a.bit_length()
    quotient, rest = divmod(a << shift, divisor)
    man = (quotient << 1) | (rest != 0)
    return from_man_exp(-man if n < 0 else man, -shift - 1, prec, round_nearest)


def rounded_raw(ball, digits: int, prec: int):
    """The ball's correctly rounded ``digits``-digit decimal as a raw mpf tuple at ``prec``
    bits (``prec ≥ dps_to_prec(digits)``), or None when the ball does not decide it.

    Most balls sit far from every rounding tie: then the midpoint rounded once to
    ``prec`` bits prints as the correctly rounded decimal, and is returned (see
    :func:`_far_from_ties`); otherwise the decimal is decided (:func:`rounded_decimal`)
    and converted (:func:`decimal_raw`).
    """
    man, exp = ball.mid().man_exp()
    man, exp = int(man), int(exp)
    if man:
        raw = from_man_exp(man, exp, prec, round_nearest)
        if _far_from_ties(raw, man, exp, ball.rel_accuracy_bits(), digits):
            return raw
    rounded = rounded_decimal(ball, digits)
    if rounded is None:
        return None
    return decimal_raw(rounded[0], rounded[1], digits, prec)


def rounded_raws(balls, digits: int, prec: int) -> list:
    """:func:`rounded_raw` of each ball, in one loop: a study rounds some 70 numbers per
    table, and the common path (the midpoint's rounding, far from every tie) inlined here
    spares a call per number; any other ball goes through :func:`rounded_raw` itself.

    >>> from flint import arb
    >>> balls = [arb(1) / 3, arb("0.125"), arb(2) ** 0.5]
    >>> rounded_raws(balls, 5, 20) == [rounded_raw(b, 5, 20) for b in balls]
    True
    """
    out = []
    far = _far_from_ties
    for ball in balls:
        man, exp = ball.mid().man_exp()
        man = int(man)
        if man:
            exp = int(exp)
            raw = from_man_exp(man, exp, prec, round_nearest)
            if far(raw, man, exp, ball.rel_accuracy_bits(), digits):
                out.append(raw)
                continue
        out.append(rounded_raw(ball, digits, prec))
    return out


def _far_from_ties(raw: tuple, mid: int, mid_exp: int, accuracy: int, digits: int) -> bool:
    """True when no rounding tie of ``digits`` significant digits lies in the hull of the
    ball (midpoint ``mid·2^mid_exp``, radius at most ``|x|·2^-accuracy``) and of ``raw``
    (the midpoint rounded to nearest) widened by a 500th of a unit: then ``raw``
    prints (mpmath prints with 3 guard digits) as every point of the ball rounds.

    With ``z(x) = 2·|x|·10^-E`` (``10^E`` the unit of the last digit), ties are the odd
    integers ``z``; the hull, in integer parts of ``z``, must hold no odd integer, and its
    rounding must have ``digits`` digits.  False (not known far) sends the caller to the
    exact path.  Every study number passes here (three per row): the bounds are kept
    in integers shifted once, and the smaller and larger end picked by comparisons.
    """
    _, man, exp, bc = raw
    if accuracy < 8 or exp > -10 or mid_exp > 0:
        return False
    shift = digits - 1 - (((exp + bc - 1) * 1233) >> 12)  # -E, from floor(log10|x|) or one less
    if shift < 1 or shift >= 1199:
        return False
    if mid < 0:
        mid = -mid
    spread = mid.bit_length() - accuracy  # the radius, in units of 2^mid_exp: at most 2^spread
    to_mid, to_raw = -mid_exp, -exp
    margin = 1 << (to_raw - 8)
    # the magnitude may be one more: then a unit ten times larger
    for w in (_TWICE_POW10[shift], _TWICE_POW10[shift - 1]):
        z, zv = mid * w, man * w
        radius = w << spread if spread >= 0 else (w >> -spread) + 1
        low, other = (z - radius) >> to_mid, (zv - margin) >> to_raw
        if other < low:
            low = other
        high, other = (z + radius) >> to_mid, (zv + margin) >> to_raw
        if other > high:
            high = other
        # no tie (odd z) in the hull: it holds no integer, or only an even one (a grid value)
        if high != low and (high != low + 1 or high & 1):
            return False
        rounded = (high + 1) >> 1
        if rounded < _POW10[digits]:
            return rounded >= _POW10[digits - 1]
    return False


def decimal_mpf(n: int, e: int, digits: int) -> mpmath.mpf:
    """:func:`decimal_raw` as an mpmath number."""
    return mpmath.mp.make_mpf(decimal_raw(n, e, digits))
