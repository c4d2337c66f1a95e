"""The textbook gradient-checking example, from Python.

f(θ) = θ³ at θ = 1: one-sided differences have error O(ε), centered ones
O(ε²); at 50 digits the observed orders are 1 and 2 at every step.
Run:  python examples/seed_gradient_check.py
(The sample reports under reports/ are written by examples/make_reports.py.)
"""

import derivaudit as da
from derivaudit.reports.text import table_as_text

table = da.study("theta**3", wrt="theta", at={"theta": 1}, eps="1e-1:1e-12:12",
                 schemes=["forward", "backward", "centered"], dps=50)
print(table_as_text(table.table, digits=25))
print()
print(da.fitted_orders(table)[["scheme", "fitted_order", "theoretical_order", "steps_used"]]
      .to_string(index=False))

# The same check a practitioner runs in float64: the error stops falling near
# the best step, where roundoff (∝ u/ε) overtakes truncation.
table = da.study("theta**3", wrt="theta", at={"theta": 1}, eps="1e-1:1e-12:12",
                 schemes=["forward", "centered"], precision="float64")
print()
print(da.predicted_best_steps(table).to_string(index=False))
