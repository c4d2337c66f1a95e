"""Record every value of every study table of the bench suite, or compare with a record.

A speed change must not change a single reported digit::

    python bench/identity.py record before.json     # on the old code
    python bench/identity.py compare before.json    # on the new code: exit 1 on any difference
    python bench/identity.py digits before.json     # compare the printed digits instead (below)

``digits`` compares every mpmath number as the table prints it (its ``dps``
significant digits), for a change of how numbers are rounded: it counts the
numbers whose printed text changed, checks each is one unit in the last
digit, and checks each new digit against an independent reference (plain
mpmath at 3·dps + 50 digits, as ``digit_audit.py``): exit 1 unless every
change is a correctly rounded value replacing a faithful one.

Tables: the bench suite's 23 formulas x its 4 schemes, in mp mode at 30 and
50 digits over the full and the quick step ranges and over steps down to
1e-60, and in float64 mode over the full and quick ranges (184 tables).
mpmath numbers are compared by their raw ``(sign, mantissa, exponent,
bitcount)``, floats by their bit pattern (``float.hex``), and the column
names, dtypes and the metadata as text (in the layout of the former ``attrs``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import mpmath

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402

da = bench.da
TINY_STEPS = "1e-1,1e-3,1e-30,1e-60"


def _exact(value) -> list:
    if isinstance(value, mpmath.mpf):
        sign, man, exp, bc = value._mpf_
        return ["mpf", sign, str(man), exp, bc]
    if isinstance(value, float):
        return ["float", "nan" if math.isnan(value) else value.hex()]
    if hasattr(value, "item"):                     # numpy scalars
        return _exact(value.item())
    return [type(value).__name__, repr(value)]


def record() -> dict[str, list]:
    cases = bench.load_suite()
    tables = {}
    for spec in (bench.STEPS, bench.QUICK_STEPS, TINY_STEPS):
        steps = bench.parse_eps(spec)
        for case in cases:
            for precision, dps in (("mp", 30), ("mp", 50), ("float64", 50)):
                if precision == "float64" and spec == TINY_STEPS:
                    continue
                table = da.study(case.expr, wrt=case.var, at=case.at, eps=steps, schemes=bench.SCHEMES,
                                 dps=dps, precision=precision)
                tables[f"{spec} | {case.label} | {precision} | {dps}"] = [
                    list(table.table.columns), [str(d) for d in table.table.dtypes],
                    [[_exact(v) for v in row] for row in table.table.itertuples(index=False)],
                    _attrs_text(table)]
    return tables


def _attrs_text(result) -> str:
    """The study's metadata as the repr of the ``attrs`` dict studies carried before StudyResult
    (same keys, same order), so records written before and after compare."""
    attrs = {k: getattr(result, k) for k in ("formula", "wrt", "point", "derivative", "exact_derivative",
                                              "precision", "dps", "formula_typed", "point_typed")}
    for key in ("error_model", "not_differentiable", "order_notes", "stencils"):
        if getattr(result, key):
            attrs[key] = getattr(result, key)
    return repr(attrs)


def _changed_cells(before: dict, after: dict, keys) -> dict[str, int]:
    """Per column, how many cells differ between two records (columns both tables have)."""
    changed: dict[str, int] = {}
    for key in keys:
        if key not in after:
            continue
        (old_columns, _, old_rows, _), (new_columns, _, new_rows, _) = before[key], after[key]
        for column in old_columns:
            if column not in new_columns:
                continue
            i, j = old_columns.index(column), new_columns.index(column)
            changed[column] = changed.get(column, 0) + sum(
                old[i] != new[j] for old, new in zip(old_rows, new_rows))
    return changed


def _printed(raw: list, dps: int):
    """The decimal an mpf cell of the record prints at ``dps`` digits (None for other cells)."""
    if raw[0] != "mpf":
        return None
    value = mpmath.mp.make_mpf((raw[1], int(raw[2]), raw[3], raw[4]))
    with mpmath.workdps(dps + 10):
        return mpmath.mpf(mpmath.nstr(value, dps)) if mpmath.isfinite(value) else None


def compare_digits(before: dict, after: dict) -> int:
    """Printed digits of every mp table before and after (see the module doc); the exit code."""
    import digit_audit

    suite = {label: (formula, var, at) for label, formula, var, at in bench.SUITE}
    same = changed = confirmed = 0
    faults, by_column = [], {}
    for key, (columns, _, rows, _) in before.items():
        spec, label, precision, dps = key.split(" | ")
        if key not in after:
            continue
        dps = int(dps)
        new_columns, new_rows = after[key][0], after[key][2]
        formula, var, at = suite[label]
        for row, new_row in zip(rows, new_rows):
            for i, column in enumerate(columns):
                if column == "error_radius" or column not in new_columns:
                    continue  # a bound, not a certified digit
                old_raw, new_raw = row[i], new_row[new_columns.index(column)]
                if old_raw[0] != "mpf" and old_raw != new_raw:  # floats and text: never changed
                    faults.append(f"{key}: {column} {old_raw} -> {new_raw}")
                    continue
                old, new = _printed(old_raw, dps), _printed(new_raw, dps)
                if old is None or new is None or old == new:
                    same += old is not None and old == new
                    continue
                changed += 1
                by_column[column] = by_column.get(column, 0) + 1
                scheme, eps = row[columns.index("scheme")][1].strip("'"), _printed(row[columns.index("eps")], dps)
                case = digit_audit.Case(formula, at, mpmath.nstr(eps, dps), (scheme,), wrt=None)
                with mpmath.workdps(4 * dps + 80):
                    unit = digit_audit._unit(new, dps)
                    if abs(new - old) > unit * (1 + mpmath.mpf(10) ** -3):
                        faults.append(f"{key}: {column} {old} -> {new}: more than one unit")
                        continue
                reference = _reference_value(digit_audit, case, var, column, dps)
                with mpmath.workdps(4 * dps + 80):
                    if digit_audit._fault(new, reference, dps) == "":
                        confirmed += 1
                    else:
                        faults.append(f"{key}: {column} {old} -> {new}, reference {mpmath.nstr(reference, dps + 5)}")
    other = [key for key in before if key in after and (before[key][0], before[key][1], before[key][3])
             != (after[key][0], after[key][1], after[key][3])]
    faults += [f"{key}: columns, dtypes or attrs differ" for key in other]
    print(f"{len(before)} tables: columns, dtypes and attrs of {len(before) - len(other)} identical")
    print(f"printed mp numbers: {same} unchanged, {changed} changed in the last digit "
          f"({', '.join(f'{c} {n}' for c, n in sorted(by_column.items()))}); "
          f"{confirmed} of them confirmed correctly rounded by the independent reference")
    for fault in faults[:10]:
        print("  fault:", fault)
    return 1 if faults else 0


def _reference_value(digit_audit, case, var: str, column: str, dps: int):
    """The reference of one table number (digit_audit's plain-mpmath evaluation)."""
    expr = da.parse_formula(case.formula)
    variables = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    point = {v: digit_audit._exact(case.at[v.name]) for v in variables}
    directions = (next(v for v in variables if v.name == var),)
    eps = digit_audit._exact(case.eps)
    extra = int(8 * max(0, -math.log10(float(eps)))) + 20
    approx, exact, _ = digit_audit._reference(case, expr, variables, point, directions, case.schemes[0],
                                              eps, dps, extra)
    with mpmath.workdps(3 * dps + 50 + extra):
        error = approx - exact
        return {"approx": approx, "exact": exact, "error": error, "abs_error": abs(error),
                "rel_error": abs(error) / abs(exact) if exact else mpmath.nan}[column]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("record", "compare", "digits"))
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    tables = record()
    if args.action == "record":
        args.path.write_text(json.dumps(tables))
        print(f"recorded {len(tables)} tables in {args.path}")
        return 0
    before = json.loads(args.path.read_text())
    if args.action == "digits":
        return compare_digits(before, json.loads(json.dumps(tables)))
    cells = sum(len(t[0]) * len(t[2]) for t in before.values())
    differ = [key for key in before if before[key] != tables.get(key)]
    print(f"{len(before)} tables, {cells} cells compared; {len(differ)} tables differ")
    changed = _changed_cells(before, tables, differ)
    print(f"cells that differ in the columns both records have: {sum(changed.values())}"
          + "".join(f"; {column} {n}" for column, n in sorted(changed.items()) if n))
    for key in differ[:10]:
        print("  differs:", key)
    return 1 if differ or set(before) != set(tables) else 0


if __name__ == "__main__":
    sys.exit(main())
