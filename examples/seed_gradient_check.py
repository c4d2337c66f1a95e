"""The textbook gradient-checking example, from Python.

f(θ) = θ³ at θ = 1: one-sided differences have error O(ε), centered ones
O(ε²).  Run:  python examples/seed_gradient_check.py
"""

from pathlib import Path

import derivaudit as da
from derivaudit.report import table_as_text, write_csv

table = da.study("theta**3", wrt="theta", at={"theta": 1}, eps="1e-1:1e-12:12",
                 schemes=["forward", "backward", "centered"], dps=50)
print(table_as_text(table, digits=25))
print()
print(da.fitted_orders(table).to_string(index=False))

out = Path(__file__).resolve().parent.parent / "reports" / "cubic.csv"
write_csv(table, out)
print(f"\nwrote {out}")
