"""What a study is asked: the formula, the point, the steps, the precision — checked at the edge.

Every user number becomes an exact sympy constant here (``"0.1"`` is 1/10,
a float by its shortest repr), so the rest of a study never rounds an input.
"""

from __future__ import annotations

import math
from functools import lru_cache
from collections.abc import Iterable, Mapping
from fractions import Fraction

import mpmath
import sympy as sp

from derivaudit.core.numeric import to_mpf
from derivaudit.core.symbolic import as_symbol
from derivaudit.errors import DerivauditError, LimitExceeded, ParseError
from derivaudit.lang.numbers import exact_number
from derivaudit.lang.parse import free_variables, parse_constant, parse_formula
from derivaudit.limits import Limits

__all__ = ["PRECISIONS", "DEFAULT_STEPS", "MAX_STEPS", "exact_number", "parse_eps", "step_text", "resolve_point",
           "as_expr", "check_dps"]

PRECISIONS = ("mp", "float64")
#: steps a study uses when none are given: 10⁻¹ … 10⁻⁸ (text, as a user would write them)
DEFAULT_STEPS = tuple(f"1e-{k}" for k in range(1, 9))
#: most steps one study may sweep
MAX_STEPS = 1_000


def step_text(value, digits: int = 20) -> str:
    """A step as it is typed: its shortest text of at most ``digits`` significant digits,
    without the ``.0`` or exponent zeros a number's printer adds (``1e-6``, not ``1.0e-6``
    or ``1e-06``).

    >>> step_text(mpmath.mpf("1e-6"), 15), step_text(1e-6), step_text(mpmath.mpf("0.01"), 6)
    ('1e-6', '1e-6', '0.01')
    >>> step_text(mpmath.mpf("3.16227766e-5"), 6), step_text(1e20), step_text(0.25)
    ('3.16228e-5', '1e20', '0.25')
    """
    if isinstance(value, float):
        text = repr(value)  # the shortest text that reads back as this double
    else:
        value = value if isinstance(value, mpmath.mpf) else mpmath.mpf(value)  # an mpf keeps its bits
        text = mpmath.nstr(value, digits, min_fixed=-4, max_fixed=min(digits, 15) + 1)
    mantissa, _, exponent = text.partition("e")
    if mantissa.endswith(".0"):
        mantissa = mantissa[:-2]
    if not exponent:
        return mantissa
    sign = "-" if exponent.startswith("-") else ""
    return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"


def parse_eps(spec: str | float | Iterable) -> list[sp.Rational]:
    """Step sizes from a list or a text spec, as exact positive rationals.

    ``"0.1,0.01"`` is a list; ``"1e-1:1e-12:12"`` is ``START:STOP:COUNT``,
    COUNT steps spaced evenly in log ε from START to STOP (both included).
    Log-spaced interior steps are rounded to 15 significant digits, then
    taken exactly.
    """
    if isinstance(spec, str):
        text = spec.strip()
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ParseError(f"step range {spec!r} must be START:STOP:COUNT, e.g. 1e-1:1e-12:12")
            start, stop = (exact_number(p.strip(), "step") for p in parts[:2])
            try:
                count = int(parts[2])
            except ValueError:
                raise ParseError(f"step count {parts[2]!r} must be a whole number") from None
            if count < 1 or count > MAX_STEPS:
                raise ParseError(f"step count must be between 1 and {MAX_STEPS}, not {count}")
            for typed, value in zip(parts[:2], (start, stop)):
                if not value.is_positive:
                    raise ParseError(f"steps must be positive, not {typed.strip()}")
            if count == 1:
                return [sp.Rational(start)] if start.is_Rational else [exact_number(float(start), "step")]
            with mpmath.workdps(30):
                lo, hi = mpmath.log10(to_mpf(start, 30)), mpmath.log10(to_mpf(stop, 30))
                steps = []
                for i in range(count):
                    if i == 0:
                        steps.append(start)
                    elif i == count - 1:
                        steps.append(stop)
                    else:
                        value = mpmath.power(10, lo + (hi - lo) * i / (count - 1))
                        steps.append(parse_constant(mpmath.nstr(value, 15, min_fixed=1, max_fixed=0),
                                                    what="step"))
            values = steps
        else:
            typed = [p.strip() for p in text.split(",") if p.strip()]
            values = [exact_number(p, "step") for p in typed]
            for p, value in zip(typed, values):
                if not value.is_positive:
                    raise ParseError(f"steps must be positive, not {p}")
    elif isinstance(spec, (int, float, Fraction, sp.Expr, mpmath.mpf)):
        values = [exact_number(spec, "step")]
    elif all(isinstance(v, sp.Rational) and v.p > 0 for v in spec):  # q > 0 always
        return list(spec)  # already exact positive steps (parsed before): nothing to check
    else:
        values = [exact_number(v, "step") for v in spec]
    if not values:
        raise ParseError("no step sizes given")
    if len(values) > MAX_STEPS:
        raise LimitExceeded(f"{len(values)} steps requested (limit {MAX_STEPS})")
    for value in values:
        if not value.is_positive:
            raise ParseError(f"steps must be positive, not {value}")
        if not value.is_Rational:
            raise ParseError(f"step {value} must be a rational number such as 0.01 or 1e-12")
    return [sp.Rational(v) for v in values]


def resolve_point(expr: sp.Expr, at: Mapping[str, object] | None) -> dict[sp.Symbol, sp.Expr]:
    """The evaluation point as exact values for every variable of ``expr``."""
    at = dict(at or {})
    point = {}
    for name, value in at.items():
        symbol = as_symbol(name)
        point[symbol] = exact_number(value, f"value of {symbol.name}")
    names = {s.name for s in point}
    variables, variable_names = _variables(expr)
    missing = [v.name for v in variables if v.name not in names]
    if missing:
        raise DerivauditError(f"no value given for {', '.join(missing)}; "
                              f"give the point a value for it ({missing[0]}=VALUE)")
    unknown = sorted(names - variable_names)
    if unknown:
        raise DerivauditError(f"the point names {', '.join(unknown)}, which the formula does not use; "
                              "drop it or check the spelling")
    return {v: point[v] for v in variables}


@lru_cache(maxsize=1024)
def _variables(expr: sp.Expr) -> tuple[tuple[sp.Symbol, ...], frozenset[str]]:
    """``expr``'s variables sorted by name, and their names (sympy walks the tree for
    them on every call: memoised, as a study asks once per call)."""
    variables = tuple(free_variables(expr))
    return variables, frozenset(v.name for v in variables)


def as_expr(formula, limits: Limits) -> sp.Expr:
    """``formula`` as a sympy expression; text goes through the safe parser."""
    if isinstance(formula, sp.Expr):
        return formula
    return parse_formula(formula, limits=limits)


def check_dps(dps, limits: Limits) -> int:
    """``dps`` itself when it is a whole number of digits from 5 to ``limits.max_dps``."""
    if not isinstance(dps, int) or isinstance(dps, bool) or dps < 5:
        raise DerivauditError(f"precision must be a whole number of digits ≥ 5, not {dps!r}")
    if dps > limits.max_dps:
        raise LimitExceeded(f"precision {dps} digits is above the limit of {limits.max_dps}")
    return dps
