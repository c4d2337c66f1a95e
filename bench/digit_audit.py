"""Digit audit: every number of every study table against an independent evaluation.

For each case (formula, point, steps, schemes, order or mixed partial) and each
precision ``dps``, ``derivaudit.study`` runs in arbitrary precision and each
reported ``approx``, ``exact``, ``error`` and ``rel_error`` is compared with a
reference computed here with plain mpmath (``sympy.lambdify(..., "mpmath")``,
none of derivaudit's numerics) at ``3·dps + 50`` digits plus the digits the
quotient cancels, checked by a second evaluation 40 digits higher.

A number is **wrong** when it differs from the reference by more than one unit
in its ``dps``-th significant digit.  An error reported as 0 is right when the
reference error is below the documented resolution ``10⁻ᵈᵖˢ·|f⁽ᵈ⁾(x)|``
(``10⁻ᵈᵖˢ·Σ|wᵢ fᵢ|/εᵈ`` when the exact derivative is 0).

    python bench/digit_audit.py            # every case at dps 15, 30, 50, 100
    python bench/digit_audit.py --quick    # dps 15 and 30

``tests/test_digit_audit.py`` runs a fast subset (:data:`FAST_CASES`).
Runs against any derivaudit on ``PYTHONPATH`` that has ``derivaudit.study``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import mpmath
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import derivaudit as da  # noqa: E402


@dataclass(frozen=True)
class Case:
    formula: str
    at: dict
    eps: str
    schemes: tuple = ("forward", "centered")
    wrt: object = None
    order: int = 1


_TINY = "1e-1,1e-5,1e-12,1e-20,1e-30,1e-40"
_ALL = ("forward", "backward", "centered", "centered4", "richardson-centered", "complex-step")
_REAL = ("forward", "backward", "centered", "centered4", "richardson-centered")

#: the issue's cases, large points, tiny steps, orders 1–4, mixed partials, every scheme
CASES = [
    Case("sin(x)", {"x": "1e20"}, "1e-3", ("centered",)),
    Case("sin(x)", {"x": "1e20"}, "1e-1,1e-3,1e-6", _ALL),
    Case("cos(x)", {"x": "1e15"}, "1e-1,1e-4,1e-8", _ALL),
    Case("exp(x)", {"x": "-1e4"}, "1e-2,1e-6", _ALL),
    Case("log(x)", {"x": "1e30"}, "1e-1,1e10,1e25", _ALL),
    Case("softplus(x)", {"x": "-40"}, "0.1", ("centered",)),
    Case("softplus(x)", {"x": "-40"}, "1,0.1,1e-3,1e-10", _ALL),
    Case("(1 - cos(x))/x**2", {"x": "1e-8"}, "1e-9,1e-12,1e-20", _REAL),
    Case("(exp(x) - 1 - x)/x**2", {"x": "1e-6"}, "1e-7,1e-10,1e-20", _ALL),
    Case("sigmoid(x)", {"x": "30"}, _TINY, _ALL),
    Case("tanh(x)", {"x": "0.5"}, _TINY, _ALL),
    Case("atan(x)", {"x": "1e8"}, "1e-1,1e-4,1e-9", _ALL),
    Case("x**3 - 2*x", {"x": "1.5"}, _TINY, _ALL),
    Case("sqrt(1 + x**2)", {"x": "0.5"}, _TINY, _ALL),
    Case("log(1 + x**2)", {"x": "2"}, _TINY, _REAL, order=2),
    Case("sin(x)", {"x": "0.7"}, "1e-1,1e-3,1e-8,1e-20", _REAL, order=3),
    Case("exp(-x**2/2)", {"x": "0.8"}, "1e-1,1e-3,1e-6,1e-12", _REAL, order=4),
    Case("cos(x)*sin(2*x)", {"x": "0.4"}, "1e-1,1e-5,1e-15,1e-40", _REAL, order=2),
    Case("x*y**2 + sin(x*y)", {"x": "0.3", "y": "1.1"}, "1e-1,1e-4,1e-10", ("forward", "centered", "centered4"),
         wrt=("x", "y")),
    Case("exp(x*y)", {"x": "10", "y": "-2"}, "1e-2,1e-6", ("centered",), wrt=("x", "x", "y")),
    Case("log(x)", {"x": "1e-3"}, "1e-4,1e-8,1e-20", _ALL),
    Case("x**2", {"x": "1"}, "1e-1,1e-3", ("forward", "centered"), order=3),
    Case("x*y", {"x": "1", "y": "2"}, "1e-1,1e-3", ("forward", "centered"), wrt=("x", "x")),
]

#: a fast subset for the test suite (the issue's examples and one of each kind)
FAST_CASES = [CASES[i] for i in (0, 2, 5, 7, 8, 15, 18, 21, 22)]


def _tensor(name, counts):
    from itertools import product
    factors = [da.stencil(name, c) for c in counts]
    terms = []
    for combo in product(*[f.terms() for f in factors]):
        offsets = tuple(o for o, _ in combo)
        weight = 1
        for _, w in combo:
            weight *= w
        terms.append((offsets, weight))
    return sum(counts), terms


def _reference(case, expr, variables, point, directions, name, eps, dps, extra):
    """(approx, exact, scale) at ``3·dps + 50 + extra`` digits with plain mpmath."""
    wp = 3 * dps + 50 + extra
    f = sp.lambdify(variables, expr, "mpmath")
    counts = [list(case.wrt).count(v.name) for v in directions] if isinstance(case.wrt, tuple) else [case.order]
    d = sum(counts)
    exact_expr = sp.diff(expr, *[(v, c) for v, c in zip(directions, counts)])
    g = sp.lambdify(variables, exact_expr, "mpmath")
    with mpmath.workdps(wp):
        base = {v: mpmath.mpf(sp.Rational(point[v]).p) / sp.Rational(point[v]).q for v in variables}
        exact = g(*[base[v] for v in variables]) if exact_expr.free_symbols else mpmath.mpf(exact_expr)
        step = mpmath.mpf(eps.p) / eps.q
        if name == "complex-step":
            args = [mpmath.mpc(base[v], step) if v == directions[0] else base[v] for v in variables]
            approx = mpmath.im(f(*args)) / step
            return approx, exact, abs(approx)
        if len(directions) > 1:
            _, terms = _tensor(name, tuple(counts))
        else:
            terms = [((o,), w) for o, w in da.stencil(name, d).terms()]
        total, scale = mpmath.mpf(0), mpmath.mpf(0)
        for offsets, w in terms:
            args = dict(base)
            for v, o in zip(directions, offsets):
                shifted = sp.Rational(point[v]) + o * eps
                args[v] = mpmath.mpf(shifted.p) / shifted.q
            part = mpmath.mpf(w.p) / w.q * f(*[args[v] for v in variables])
            total += part
            scale += abs(part)
        return total / step ** d, exact, scale / step ** d


def _unit(reference, dps):
    """One unit in the ``dps``-th significant digit of ``reference``."""
    if reference == 0:
        return mpmath.mpf(0)
    return mpmath.mpf(10) ** (int(mpmath.floor(mpmath.log10(abs(reference)))) - dps + 1)


def audit_case(case: Case, dps: int) -> tuple[int, int, list[str]]:
    """(numbers compared, numbers wrong, descriptions of the wrong ones)."""
    table = da.study(case.formula, wrt=list(case.wrt) if isinstance(case.wrt, tuple) else case.wrt,
                     at=case.at, eps=case.eps, schemes=list(case.schemes), order=case.order, dps=dps).table
    expr = da.parse_formula(case.formula)
    variables = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    point = {v: _exact(case.at[v.name]) for v in variables}
    if isinstance(case.wrt, tuple):
        directions = tuple(dict.fromkeys(next(v for v in variables if v.name == n) for n in case.wrt))
    else:
        directions = (next(v for v in variables if v.name == (case.wrt or variables[0].name)),)
    compared, wrong, notes = 0, 0, []
    for _, row in table.iterrows():
        eps = _step_of(case, row)
        extra = int(8 * max(0, -math.log10(float(eps))) + max(0, math.log10(max(1.0, max(
            abs(float(point[v])) for v in directions)))) + 10)
        ref = _reference(case, expr, variables, point, directions, row["scheme"], eps, dps, extra)
        check = _reference(case, expr, variables, point, directions, row["scheme"], eps, dps, extra + 40)
        with mpmath.workdps(3 * dps + 50 + extra):
            approx, exact, scale = ref
            assert abs(check[0] - approx) <= abs(approx) * mpmath.mpf(10) ** (-2 * dps) + mpmath.mpf(10) ** (-3 * dps), \
                "the reference itself is unresolved"
            error = approx - exact
            resolution = (abs(exact) if exact != 0 else scale) * mpmath.mpf(10) ** -dps
            checks = [("approx", row["approx"], approx, resolution if exact == 0 else None),
                      ("exact", row["exact"], exact, None),
                      ("error", row["error"], error, resolution)]
            if exact != 0:
                rel = abs(error) / abs(exact)
                checks.append(("rel_error", row["rel_error"], rel, mpmath.mpf(10) ** -dps))
            for label, reported, reference, below in checks:
                compared += 1
                reported = mpmath.mpf(reported)
                if below is not None and reported == 0 and abs(reference) <= below:
                    continue
                if mpmath.isnan(reported) or abs(reported - reference) > _unit(reference, dps):
                    wrong += 1
                    notes.append(f"{case.formula} at {case.at} {row['scheme']} eps={eps} dps={dps}: "
                                 f"{label} {mpmath.nstr(reported, dps)} vs {mpmath.nstr(reference, dps)}")
    return compared, wrong, notes


def _step_of(case, row):
    steps = [_exact(s) for s in case.eps.split(",")]
    value = mpmath.mpf(row["eps"]) if not isinstance(row["eps"], float) else row["eps"]
    return min(steps, key=lambda s: abs(mpmath.mpf(s.p) / s.q - value) / (mpmath.mpf(s.p) / s.q))


def _exact(text) -> sp.Rational:
    return sp.Rational(str(text)) if "e" not in str(text).lower() else _sci(str(text))


def _sci(text: str) -> sp.Rational:
    mantissa, exponent = text.lower().split("e")
    return sp.Rational(mantissa) * sp.Rational(10) ** int(exponent)


def run(cases, precisions, verbose=False) -> tuple[int, int]:
    total, bad = 0, 0
    for case in cases:
        for dps in precisions:
            try:
                compared, wrong, notes = audit_case(case, dps)
            except da.DerivauditError as exc:
                print(f"refused: {case.formula} at {case.at} dps={dps}: {exc}")
                continue
            total += compared
            bad += wrong
            for note in notes[: (len(notes) if verbose else 3)]:
                print("  wrong:", note)
    return total, bad


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="dps 15 and 30 only")
    parser.add_argument("--fast", action="store_true", help="the test suite's subset of cases")
    parser.add_argument("--verbose", action="store_true", help="list every wrong number")
    args = parser.parse_args(argv)
    precisions = (15, 30) if args.quick else (15, 30, 50, 100)
    cases = FAST_CASES if args.fast else CASES
    start = time.perf_counter()
    total, bad = run(cases, precisions, args.verbose)
    print(f"digit audit: {len(cases)} cases x dps {', '.join(map(str, precisions))}: {total} numbers, "
          f"{bad} wrong by more than one unit in the last digit ({time.perf_counter() - start:.1f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
