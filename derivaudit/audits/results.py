"""The typed results of an audit: one :class:`ClaimResult` per claim, the
:class:`BackwardCheck` of each backward intermediate, and the
:class:`AuditResult` that holds them (reports render these; nothing here
computes evidence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import pandas as pd

from derivaudit.audits.spec import AuditSettings

__all__ = ["BackwardCheck", "ClaimResult", "AuditResult", "describe_entries", "order_text"]


@dataclass
class BackwardCheck:
    """A backward intermediate ``dF`` checked against the exact ``∂loss/∂F``."""

    name: str
    of: str
    correct: bool
    wrong_entries: str
    #: the constant k when the intermediate is k·∂loss/∂F (dZ = A − Y for a loss divided by m)
    factor: Fraction | None = None

    def describe(self) -> str:
        if self.correct:
            return f"{self.name} = {self.factor}·∂loss/∂{self.of}" if self.factor else \
                f"{self.name} = ∂loss/∂{self.of}"
        return f"{self.name} WRONG ({self.wrong_entries})"


@dataclass
class ClaimResult:
    """The verdict on one claimed gradient ``∂loss/∂parameter``.

    ``status`` is ``"proved"`` (the difference was shown to be 0
    symbolically), ``"numerical"`` (every entry agrees to ``dps`` digits at
    every random point, no proof) or ``"different"`` (some entry differs:
    ``wrong_entries`` lists them, ``counterexample`` gives a point).
    """

    parameter: str
    shape: tuple[int, ...]
    claim: str
    claim_shape: tuple[int, ...]
    status: str
    wrong_entries: list[tuple[int, ...]]
    wrong_description: str
    diagnosis: list[str]
    difference: str
    counterexample: dict[str, str]
    rel_difference: float
    rel_difference_float64: float
    grade: str
    order: float
    fd_order: float
    steps: list[str]
    rel_by_step: list[float]
    proved_entries: int
    entries: int
    #: |claim − exact| per entry (parameter layout) at the first random point
    entry_abs_difference: list[float] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.status in ("proved", "numerical")

    @property
    def verdict(self) -> str:
        if self.status == "proved":
            return "correct (proved)"
        if self.status == "numerical":
            return "correct (numerically)"
        return "wrong"


@dataclass
class AuditResult:
    """All verdicts of one audit, in the order of the spec's claims."""

    source: str
    claims: list[ClaimResult]
    backward: list[BackwardCheck]
    settings: AuditSettings
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.correct for c in self.claims)

    def __getitem__(self, parameter: str) -> ClaimResult:
        for c in self.claims:
            if c.parameter == parameter:
                return c
        raise KeyError(parameter)

    def table(self) -> pd.DataFrame:
        """One row per claim: parameter, shape, verdict, rel. differences, order, wrong entries."""
        return pd.DataFrame([{
            "parameter": c.parameter, "shape": "x".join(map(str, c.shape)) or "scalar",
            "verdict": c.verdict, "rel_difference": c.rel_difference,
            "rel_difference_float64": c.rel_difference_float64, "grade": c.grade,
            "order": c.order, "wrong_entries": c.wrong_description,
        } for c in self.claims])

    def summary(self) -> str:
        """The summary table and, for each wrong claim, its diagnosis."""
        rows = []
        for c in self.claims:
            rows.append([c.parameter, "x".join(map(str, c.shape)) or "1", c.verdict,
                         f"{c.rel_difference_float64:.1e}", c.grade,
                         order_text(c), c.wrong_description or "-"])
        head = ["param", "shape", "verdict", "rel.diff", "check", "order", "wrong entries"]
        widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()
                 for r in [head] + rows]
        wrong = [c for c in self.claims if not c.correct]
        lines.append("")
        lines.append(f"{len(self.claims) - len(wrong)} of {len(self.claims)} claims correct"
                     + (f"; wrong: {', '.join(c.parameter for c in wrong)}" if wrong else ""))
        for c in wrong:
            lines.append("")
            lines.append(f"{c.parameter}: claim {c.claim}")
            for note in c.diagnosis:
                lines.append(f"  - {note}")
            if c.difference:
                lines.append(f"  - {c.difference}")
        bad_backward = [b for b in self.backward if not b.correct]
        if self.backward:
            lines.append("")
            lines.append("backward intermediates: " + "; ".join(b.describe() for b in self.backward))
            if bad_backward:
                lines.append(f"  first wrong step: {bad_backward[0].name} is not ∂loss/∂{bad_backward[0].of}")
        return "\n".join(lines)


def order_text(c: ClaimResult) -> str:
    """The observed order of a claim's finite-difference evidence as shown in the summary."""
    if not math.isnan(c.order):
        return f"{c.order:.2f}" if abs(c.order) >= 0.005 else "0.00"
    # no order: the centered differences are exact (a loss at most quadratic in P), or undefined
    return "exact" if all(math.isfinite(r) and r < 1e-30 for r in c.rel_by_step[-2:]) else "-"


def describe_entries(wrong: list[tuple[int, ...]], shape: tuple[int, ...]) -> str:
    """``"all 20"``, ``"rows 0, 2"``, ``"column 3"`` or a short list of entries.

    >>> describe_entries([(1, 0), (1, 1)], (2, 2)), describe_entries([(0, 1)], (2, 2))
    ('row 1', '1 of 4: [0,1]')
    """
    total = math.prod(shape) if shape else 1
    if not wrong:
        return ""
    if len(wrong) == total:
        return f"all {total}" if total > 1 else "the value"
    if len(shape) == 2:
        rows = sorted({i for i, _ in wrong})
        cols = sorted({j for _, j in wrong})
        if len(wrong) == len(rows) * shape[1]:
            return ("row " if len(rows) == 1 else "rows ") + ", ".join(map(str, rows))
        if len(wrong) == len(cols) * shape[0]:
            return ("column " if len(cols) == 1 else "columns ") + ", ".join(map(str, cols))
    shown = ", ".join("[" + ",".join(map(str, w)) + "]" for w in wrong[:6])
    return f"{len(wrong)} of {total}: {shown}" + (", ..." if len(wrong) > 6 else "")
