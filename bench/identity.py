"""Record every value of every study table of the bench suite, or compare with a record.

A speed change must not change a single reported digit::

    python bench/identity.py record before.json     # on the old code
    python bench/identity.py compare before.json    # on the new code: exit 1 on any difference

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("record", "compare"))
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    tables = record()
    if args.action == "record":
        args.path.write_text(json.dumps(tables))
        print(f"recorded {len(tables)} tables in {args.path}")
        return 0
    before = json.loads(args.path.read_text())
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
