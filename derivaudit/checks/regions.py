"""The plan of the witness search: which points cover every region the switches cut out.

Points, in order (:func:`plan_points`): small fractions; both sides of every
**switch** (zeros of kink and branch arguments, solved exactly when linear,
else found by sign changes on a logarithmic grid and bisection), at offsets
``10⁻⁶, 10⁻², 1`` times ``max(1, |root|)`` and at relative distances
``10⁻ᵏ`` of the gap to the neighbouring switch, and the **midpoint between
consecutive switches** however narrow the gap (a bump 2·10⁻⁷ wide is
sampled); **magnitudes** ``±10ᵏ`` over the scales of the constants, their
evaluated values included (``exp(20)``, ``E**28``) and the thresholds of
``log`` (``log(x) − 30`` switches at ``e³⁰``); and in several variables the
**cells** of the switches that depend on one variable each (every
combination of a midpoint per variable: a 2×2 box is sampled), see
:func:`cell_points`.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence

import sympy as sp

from derivaudit.core.balls import compile_balls
from derivaudit.core.piecewise import Branch, region_pieces
from derivaudit.errors import DomainError, LimitExceeded
from derivaudit.lang.functions import Step

__all__ = ["SIDE_OFFSETS", "BASE_POWERS", "NICE_POINTS", "draw_points", "switch_arguments", "constant_scales",
           "plan_points", "cell_points"]

#: offsets of the points on each side of a switch, times ``max(1, |root|)``
SIDE_OFFSETS = (sp.Integer(1), sp.Rational(1, 100), sp.Rational(1, 10 ** 6))
#: magnitudes 10^k always tried
BASE_POWERS = tuple(range(-3, 4))
#: most planned points per variable beyond the small fractions
_MAX_PLANNED = 400

#: how many of the first candidate points use small fractions
NICE_POINTS = 6
_NICE_VALUES = [sp.Rational(p, q) for p, q in
                [(1, 2), (3, 2), (2, 1), (-1, 2), (1, 1), (-3, 2), (3, 4), (5, 2), (-2, 1), (1, 3)]]


# --------------------------------------------------------------------------
# the plan

def _random_value(rng: random.Random, widen: int) -> sp.Rational:
    """A 12-digit decimal, log-uniform in magnitude over 10^±(1+widen), random sign."""
    magnitude = 10 ** rng.uniform(-1 - widen, 1 + widen)
    sign = -1 if rng.random() < 0.5 else 1
    return sp.Rational(f"{sign * magnitude:.12g}")


def draw_points(variables: Sequence[sp.Symbol], seed: int = 0, small_fractions: bool = True,
                widest: int = 4) -> Iterator[dict[sp.Symbol, sp.Rational]]:
    """Reproducible candidate points: small fractions first, then random decimals.

    The first candidates give the variables small fractions (1/2, 3/2, 2,
    −1/2, …; different ones per variable), so a counterexample is readable.
    The random part widens its range every 50 candidates (10^±1, 10^±2, …,
    up to 10^±(1 + ``widest``)).  ``small_fractions=False`` starts with the
    random decimals.
    """
    rng = random.Random(seed)
    count = 0 if small_fractions else NICE_POINTS
    while True:
        if count < NICE_POINTS:
            point = {v: _NICE_VALUES[(count + 3 * j) % len(_NICE_VALUES)]
                     for j, v in enumerate(variables)}
        else:
            widen = min((count - NICE_POINTS) // 50, widest)
            point = {v: _random_value(rng, widen) for v in variables}
        count += 1
        yield point


def switch_arguments(exprs: Sequence[sp.Expr]) -> list[sp.Expr]:
    """Expressions whose zeros are kinks, jumps, poles or branch points of ``exprs``.

    Kinks: the arguments of ``abs``, ``sign``, ``Heaviside``, ``DiracDelta``
    and the pairwise differences of ``max``/``min`` arguments.  Branch points
    and poles: the arguments of ``log``, the bases of fractional or negative
    powers, and ``a ∓ 1`` for ``asin``, ``acos``, ``atanh``, ``acosh``.
    """
    found: list[sp.Expr] = []
    for expr in exprs:
        for node in sp.preorder_traversal(expr):
            if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta, sp.log, Branch, Step)):
                found.append(node.args[0])
            elif isinstance(node, (sp.Max, sp.Min)):
                args = node.args
                found += [a - b for i, a in enumerate(args) for b in args[i + 1:]]
            elif isinstance(node, sp.Pow) and not (node.exp.is_Integer and node.exp > 0):
                found.append(node.base)
            elif isinstance(node, (sp.asin, sp.acos, sp.atanh, sp.acosh)):
                found += [node.args[0] - 1, node.args[0] + 1]
    unique = []
    for arg in found:
        if arg.free_symbols and arg not in unique:
            unique.append(arg)
    return unique


def constant_scales(exprs: Sequence[sp.Expr]) -> list[int]:
    """Decimal exponents ``k`` the constants of ``exprs`` suggest: ``k``, ``k/2``, ``k ± 1``.

    >>> x = sp.Symbol("x")
    >>> constant_scales([sp.Max(x, 100)])
    [-3, -2, -1, 0, 1, 2, 3]
    >>> constant_scales([sp.sqrt(x - 10**6)])[-3:]
    [5, 6, 7]
    """
    powers = set(BASE_POWERS)
    for exponent in _constant_exponents(exprs):
        for p in (exponent, exponent // 2, exponent - 1, exponent + 1):
            if abs(p) <= 300:
                powers.add(p)
    return sorted(powers)


def _constant_exponents(exprs: Sequence[sp.Expr]) -> list[int]:
    """Decimal exponents of the constants: the literal numbers, the evaluated constant subtrees
    (``exp(20)``, ``E**28``: hidden scales) and ``±c/ln 10`` for a constant ``c`` ≤ 700 (the
    threshold ``log(x) = c`` is at ``x = e^c``; when a logarithm is present)."""
    values = set()
    logarithms = any(isinstance(e, sp.Basic) and e.has(sp.log) for e in exprs)
    for expr in exprs:
        for node in sp.preorder_traversal(expr):
            if isinstance(node, sp.Number):
                values.add(node)
            elif not node.free_symbols and isinstance(node, sp.Expr) and node.args:
                try:
                    value = sp.N(node, 15)
                except (ValueError, TypeError, ArithmeticError, RecursionError):
                    continue
                if value.is_Float:
                    values.add(value)
    exponents = []
    for value in values:
        if value.is_zero or not value.is_finite or not value.is_real:
            continue
        magnitude = abs(float(sp.log(abs(value), 10).evalf(15)))
        k = int(math.floor(float(sp.log(abs(value), 10).evalf(15))))
        exponents.append(k)
        if logarithms and abs(value) <= 700 and magnitude >= 0:
            e = int(float(abs(value)) / math.log(10))
            exponents += [e, -e - 1]
    return exponents


def _linear_root(argument: sp.Expr, v: sp.Symbol, point) -> sp.Rational | None:
    """The zero in ``v`` of an argument linear in ``v`` (others at ``point``), as a
    rational (exact, or to 40 digits for an irrational root such as ``pi``)."""
    a = argument.xreplace({s: point[s] for s in argument.free_symbols if s != v})
    if a.free_symbols != {v}:
        return None
    c = sp.diff(a, v)
    if not c.is_number or c == 0:
        return None
    root = -a.xreplace({v: sp.Integer(0)}) / c
    if root.is_Rational:
        return root
    if not root.is_number or root.free_symbols:
        return None
    value = root.evalf(40)
    if not value.is_real or not value.is_finite:
        return None
    return sp.Rational(str(value))


def _scan_roots(argument: sp.Expr, v: sp.Symbol, point, powers: Sequence[int],
                limit: int = 8) -> list[sp.Rational]:
    """Approximate zeros (sign changes) of ``argument`` along ``v``, as exact rationals.

    The argument is evaluated in balls on the grid ``±m·10ᵏ`` (m = 1, 2, 5)
    and each certified sign change is bisected 60 times.
    """
    others = {s: point[s] for s in argument.free_symbols if s != v}
    a = argument.xreplace(others)
    if a.free_symbols != {v}:
        return []
    formula = compile_balls(a, (v,))
    grid = sorted({sp.Integer(s) * m * sp.Integer(10) ** k for k in powers for m in (1, 2, 5)
                   for s in (1, -1)} | {sp.Integer(0)})

    def sign(x):
        try:
            ball = formula.at([x], 128)
        except (DomainError, LimitExceeded, ArithmeticError, ValueError):
            return None
        if not ball.is_finite() or ball.contains(0):
            return 0 if ball.is_finite() else None
        return 1 if ball > 0 else -1

    signs = [sign(x) for x in grid]
    # a grid point where the ball holds 0 may be the switch itself
    roots: list[sp.Rational] = [x for x, s in zip(grid, signs) if s == 0][:limit]
    for (x0, s0), (x1, s1) in zip(zip(grid, signs), zip(grid[1:], signs[1:])):
        if s0 and s1 and s0 != s1:
            lo, hi = x0, x1
            for _ in range(60):
                mid = (lo + hi) / 2
                s = sign(mid)
                if not s:
                    break
                lo, hi = (mid, hi) if s == s0 else (lo, mid)
            roots.append((lo + hi) / 2)
            if len(roots) >= limit:
                break
    return roots


def _sides(root: sp.Rational) -> list[sp.Rational]:
    scale = max(sp.Integer(1), abs(root))
    # offsets scaled to a power of ten so that the points print as short decimals
    unit = sp.Integer(10) ** int(math.floor(math.log10(float(scale)))) if scale > 1 else 1
    return [root + sign * d * unit for d in SIDE_OFFSETS for sign in (1, -1)]


#: relative distances, of the gap to the neighbouring switch, of the points inside each side
GAP_FRACTIONS = (sp.Rational(1, 2), sp.Rational(1, 10 ** 3), sp.Rational(1, 10 ** 6))


def _inside_gaps(roots: Sequence[sp.Rational]) -> list[sp.Rational]:
    """Points inside every region between consecutive switches, however narrow: the midpoint
    and points at relative distance 10⁻³, 10⁻⁶ of the gap from each end."""
    ordered = sorted(set(roots))
    out = []
    for lo, hi in zip(ordered, ordered[1:]):
        gap = hi - lo
        for fraction in GAP_FRACTIONS:
            out += [lo + fraction * gap, hi - fraction * gap]
    return list(dict.fromkeys(out))


def _roots_along(v: sp.Symbol, switches: Sequence[sp.Expr], powers: Sequence[int], base: dict) -> list:
    roots = []
    for argument in switches:
        if v not in argument.free_symbols:
            continue
        for piece in region_pieces(argument):
            if v not in piece.free_symbols:
                continue
            root = _linear_root(piece, v, base)
            roots += [root] if root is not None else _scan_roots(piece, v, base, powers)
    return roots


#: most cells of a multi-variable search (combinations of one in-region value per variable)
MAX_CELLS = 400


def cell_points(moving: Sequence[sp.Symbol], switches: Sequence[sp.Expr], powers: Sequence[int],
                base: dict) -> Iterator[dict[sp.Symbol, sp.Rational]]:
    """In two or more variables, the cells of the switches: every combination of one value per
    variable taken inside each region its own switches cut out (midpoints between consecutive
    roots, and a point beside the outer ones), at most :data:`MAX_CELLS`."""
    if len(moving) < 2:
        return
    per_variable = []
    for v in moving:
        roots = _roots_along(v, switches, powers, base)
        if not roots:
            per_variable.append([base[v]])
            continue
        ordered = sorted(set(roots))
        values = [(lo + hi) / 2 for lo, hi in zip(ordered, ordered[1:])]
        values += [ordered[0] - 1, ordered[-1] + 1]
        per_variable.append(values[:20])
    for count, combination in enumerate(itertools.product(*per_variable)):
        if count >= MAX_CELLS:
            return
        yield {**base, **dict(zip(moving, combination))}


def plan_points(moving: Sequence[sp.Symbol], switches: Sequence[sp.Expr], powers: Sequence[int],
                base: dict) -> Iterator[dict[sp.Symbol, sp.Rational]]:
    """Structured points around ``base``: both sides of every switch, then magnitudes.

    Only the ``moving`` variables (those of the difference and of the
    switches) are varied, one at a time; the others keep their base values.
    """
    for v in moving:
        count = 0
        roots = _roots_along(v, switches, powers, base)
        for value in _inside_gaps(roots):
            count += 1
            yield {**base, v: value}
        for r in roots:
            for value in _sides(r):
                count += 1
                yield {**base, v: value}
        for k in powers:
            for sign in (1, -1):
                for m in (1, 3):
                    count += 1
                    if count > _MAX_PLANNED:
                        break
                    yield {**base, v: sign * m * sp.Integer(10) ** k if k >= 0
                           else sign * sp.Rational(m, 10 ** -k)}


