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

from derivaudit.echo import escape_controls
from derivaudit.results import Result
from derivaudit.verdicts import Verdict
from derivaudit.audits.definitions import Malformed
from derivaudit.audits.spec import AuditSettings
from derivaudit.audits.witness import WITNESS_SEARCH_FACTOR

__all__ = ["BackwardCheck", "ClaimResult", "AuditResult", "describe_entries", "order_text", "verdict_of",
           "invalid_claim"]


def verdict_of(status: str) -> Verdict:
    """The verdict of an equivalence test's outcome (``Comparison.status`` and the audit judge's).

    >>> str(verdict_of("different"))
    'wrong'
    """
    return {"proved": Verdict.PROVED, "numerical": Verdict.NUMERICAL, "different": Verdict.WRONG,
            "undecided": Verdict.UNDECIDED}[status]


@dataclass
class BackwardCheck:
    """A backward intermediate ``dF`` checked against the exact ``∂loss/∂F``.

    An intermediate that is ``k·∂loss/∂F`` for a constant ``k > 0`` is a
    convention (``dZ2 = A2 − Y`` for a loss divided by ``m``: the ``1/m`` is
    applied later) and counts as correct, with ``factor = k``; a negative
    ``k`` is an opposite sign and counts as wrong; ``k = 0`` is no gradient.
    """

    name: str
    of: str
    correct: bool
    wrong_entries: str
    #: the constant k when the intermediate is k·∂loss/∂F (dZ = A − Y for a loss divided by m)
    factor: Fraction | None = None
    #: the claims built on it that are off by the same factor k (then the 1/k is never applied:
    #: this intermediate is the first wrong step)
    carried_into: tuple[str, ...] = ()
    #: of the claims built on it, those right (the 1/k applied later) and those off by k (they
    #: forgot it themselves); both empty unless some claims built on it are off by k and some not
    applied_in: tuple[str, ...] = ()
    forgotten_in: tuple[str, ...] = ()
    #: why the intermediate cannot be evaluated (one line): then it is not checked, and the
    #: claims built on it are invalid
    invalid: str = ""

    def describe(self) -> str:
        """``dZ = ∂loss/∂Z``, ``dZ2 = 8·∂loss/∂Z2: the 1/8 is applied later``, ``dZ WRONG (...)``.

        >>> BackwardCheck("dZ", "Z", False, "all 6", Fraction(-5)).describe()
        'dZ = −5·∂loss/∂Z: opposite sign'
        >>> BackwardCheck("dZ1", "Z1", True, "", Fraction(16), applied_in=("b1",), forgotten_in=("W1",)).describe()
        'dZ1 = 16·∂loss/∂Z1: the 1/16 is applied later in b1, not in W1'
        """
        if self.invalid:
            return f"{self.name} invalid: {self.invalid}"
        k = self.factor
        if k is not None and k < 0:
            return f"{self.name} = {_signed(k)}·∂loss/∂{self.of}: opposite sign"
        if self.carried_into:
            return (f"{self.name} = {k}·∂loss/∂{self.of}, and {', '.join(self.carried_into)} built on it "
                    f"{'is' if len(self.carried_into) == 1 else 'are'} off by the same factor: the {1 / k} "
                    "is never applied")
        if not self.correct:
            return f"{self.name} WRONG ({self.wrong_entries})"
        if k is not None and k != 1 and self.forgotten_in:
            applied = f"applied later in {', '.join(self.applied_in)}, not" if self.applied_in else "not applied"
            return f"{self.name} = {k}·∂loss/∂{self.of}: the {1 / k} is {applied} in {', '.join(self.forgotten_in)}"
        if k is not None and k != 1:
            return f"{self.name} = {k}·∂loss/∂{self.of}: the {1 / k} is applied later"
        return f"{self.name} = ∂loss/∂{self.of}"


def _signed(k: Fraction) -> str:
    return str(k).replace("-", "−")


@dataclass
class ClaimResult:
    """The verdict on one claimed gradient ``∂loss/∂parameter``.

    ``verdict`` is ``Verdict.PROVED`` (the difference was shown to be 0
    symbolically), ``Verdict.NUMERICAL`` (every entry's values are certified to
    ``dps`` digits and agree at every random point, and no ball of their
    difference excludes 0, no proof), ``Verdict.WRONG`` (a certified witness:
    ``wrong_entries`` lists the entries, ``counterexample`` gives a point),
    ``Verdict.UNDECIDED`` (no witness, but some values could not be resolved:
    ``reason`` says which and what would decide it) or ``Verdict.INVALID``
    (the claim cannot be read or evaluated: ``message`` says what, where and
    how to fix it; there is no evidence, and ``claim_shape`` is None).
    """

    parameter: str
    shape: tuple[int, ...]
    claim: str
    claim_shape: tuple[int, ...] | None
    verdict: Verdict
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
    #: why the claim is undecided, and what would decide it ("" otherwise)
    reason: str = ""
    #: what the numeric evidence could not give (a float64 check that overflows, ...)
    evidence_notes: list[str] = field(default_factory=list)
    #: certified ``‖claim − exact‖ / (‖claim‖ + ‖exact‖)`` at the first point (parameter layout), from
    #: balls: ``(low, high)`` encloses it (``low`` is 0 when the ball touches 0; NaN: not comparable)
    rel_difference_certified: tuple[float, float] = (math.nan, math.nan)
    #: why an invalid claim cannot be judged: the one line its error gives ("" for a judged claim)
    message: str = ""

    def certified_rel_text(self) -> str:
        """The certified relative difference as shown: its value, or ``≤ bound`` when it may be 0."""
        low, high = self.rel_difference_certified
        if not math.isfinite(high):
            return "-"
        return f"{(low + high) / 2:.1e}" if low > 0 else f"≤{high:.0e}"

    @property
    def correct(self) -> bool:
        return self.verdict.correct


@dataclass
class AuditResult(Result):
    """All verdicts of one audit, in the order of the spec's claims.

    ``verdict`` is the worst claim's, ``[hessians]`` claims included (invalid
    > wrong > undecided > numerical > proved; a malformed backward
    intermediate counts as an invalid claim); ``exit_code`` and ``ok`` follow
    from it.  ``errors`` has one line per formula of the spec that cannot be
    read or evaluated: every invalid verdict comes from one of them.
    """

    source: str
    claims: list[ClaimResult]
    backward: list[BackwardCheck]
    settings: AuditSettings
    seconds: dict[str, float] = field(default_factory=dict)
    #: one verdict per ``[hessians]`` claim (:class:`~derivaudit.audits.hessians.HessianClaimResult`)
    hessians: list = field(default_factory=list)
    #: one line per malformed formula of ``[backward]``, ``[claims]``, ``[hessians]`` (what, where, how to fix)
    errors: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        """The worst verdict of the gradient claims and the ``[hessians]`` claims.

        *invalid* comes first: the spec needs fixing before its audit is whole,
        whatever the other claims' verdicts (exit code 2).
        """
        verdicts = {c.verdict for c in self.claims + self.hessians}
        if any(b.invalid for b in self.backward):
            verdicts.add(Verdict.INVALID)
        for verdict in (Verdict.INVALID, Verdict.WRONG, Verdict.UNDECIDED, Verdict.NUMERICAL):
            if verdict in verdicts:
                return verdict
        return Verdict.PROVED

    def __getitem__(self, parameter: str) -> ClaimResult:
        for c in self.claims:
            if c.parameter == parameter:
                return c
        raise KeyError(parameter)

    def table(self) -> pd.DataFrame:
        """One row per claim: parameter, shape, verdict, rel. differences, order, wrong entries, message."""
        return pd.DataFrame([{
            "parameter": c.parameter, "shape": "x".join(map(str, c.shape)) or "scalar",
            "verdict": c.verdict, "rel_difference": c.rel_difference,
            "rel_difference_certified": c.rel_difference_certified[1],
            "rel_difference_float64": c.rel_difference_float64, "grade": c.grade,
            "order": c.order, "wrong_entries": c.wrong_description, "message": c.message,
        } for c in self.claims])

    def summary(self) -> str:
        """The summary table and, for each wrong or undecided claim, its diagnosis or reason
        (for a correct claim, what its numeric evidence cannot show)."""
        rows = []
        for c in self.claims:
            rel64 = f"{c.rel_difference_float64:.1e}" if math.isfinite(c.rel_difference_float64) else "-"
            check = "-" if rel64 == c.grade == "-" else f"{rel64} {c.grade}"  # no number and no band: one dash
            rows.append([c.parameter, "x".join(map(str, c.shape)) or "1", str(c.verdict), c.certified_rel_text(),
                         check, order_text(c), c.wrong_description or "-"])
        # rel.diff: certified, claim against the exact gradient; float64 check: what a float64
        # centered-difference check would say (its relative difference and band)
        head = ["param", "shape", "verdict", "rel.diff", "float64 check", "order", "wrong entries"]
        widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()
                 for r in [head] + rows]
        by_verdict = {v: [c for c in self.claims if c.verdict == v]
                      for v in (Verdict.WRONG, Verdict.UNDECIDED, Verdict.INVALID)}
        wrong, undecided, invalid = by_verdict.values()
        lines.append("")
        lines.append(f"{sum(c.correct for c in self.claims)} of {len(self.claims)} claims correct"
                     + "".join(f"; {v}: {', '.join(c.parameter for c in which)}"
                               for v, which in by_verdict.items() if which))
        if any(c.verdict == Verdict.NUMERICAL for c in self.claims):
            s = self.settings
            lines.append(f"not proved: values certified to {s.dps} digits agree at {s.points} random points "
                         f"in [{s.low:g}, {s.high:g}]; no difference found at "
                         f"{WITNESS_SEARCH_FACTOR * s.dps} digits")
        noted = [c for c in self.claims if c.correct and c.evidence_notes]  # evidence that may mislead
        lines += self._claim_notes(wrong + undecided + invalid + noted)
        lines += self._hessian_lines()
        bad_backward = [b for b in self.backward if not b.correct and not b.invalid]
        if self.backward:
            lines.append("")
            lines.append("backward intermediates: " + "; ".join(b.describe() for b in self.backward))
            if bad_backward:
                lines.append(f"  first wrong step: {bad_backward[0].name} is not ∂loss/∂{bad_backward[0].of}")
        return "\n".join(lines)

    def _hessian_lines(self) -> list[str]:
        if not self.hessians:
            return []
        lines = ["", f"{sum(h.correct for h in self.hessians)} of {len(self.hessians)} Hessian claims correct"
                 + "".join(f"; {word}: {', '.join(which)}" for word, which in
                           ((str(v), [h.parameter for h in self.hessians if h.verdict is v])
                            for v in (Verdict.WRONG, Verdict.INVALID)) if which)]
        for h in self.hessians:
            rel = f"{h.rel_difference:.1e}" if math.isfinite(h.rel_difference) else "-"
            lines += ["", f"Hessian {h.parameter} ({h.shape[0]}x{h.shape[1]}): {h.verdict}, rel.diff {rel}"
                      + (f", wrong entries {h.wrong_description}" if h.wrong_description else "")]
            if h.counterexample:
                lines.append("  witness: " + ", ".join(f"{k}={v}" for k, v in list(h.counterexample.items())[:6])
                             + (" …" if len(h.counterexample) > 6 else ""))
            invalid = [f"invalid: {h.message}"] if h.message else []
            lines += [f"  - {note}" for note in invalid + h.diagnosis + h.notes]
        return lines

    def _claim_notes(self, claims: list[ClaimResult]) -> list[str]:
        lines = []
        for c in claims:
            lines.append("")
            lines.append(f"{c.parameter}: claim {escape_controls(c.claim)}")
            for note in ([c.reason] if c.reason else []) + ([f"invalid: {c.message}"] if c.message else []) + \
                    c.diagnosis + c.evidence_notes:
                lines.append(f"  - {note}")
            if c.difference:
                lines.append(f"  - {c.difference}")
        return lines


def order_text(c: ClaimResult) -> str:
    """The observed order of a claim's finite-difference evidence as shown in the summary."""
    if not math.isnan(c.order):
        return f"{c.order:.2f}" if abs(c.order) >= 0.005 else "0.00"
    if not c.rel_by_step:  # no evidence (an invalid claim)
        return "-"
    # no order: the centered differences are exact (a loss at most quadratic in P), or undefined
    return "exact" if all(math.isfinite(r) and r < 1e-30 for r in c.rel_by_step[-2:]) else "-"


def invalid_claim(malformed: Malformed, shape: tuple[int, ...]) -> ClaimResult:
    """The result of a claim that cannot be judged: verdict *invalid*, its message, no evidence.

    >>> from derivaudit.audits.definitions import Malformed
    >>> c = invalid_claim(Malformed("W", "claims", "dZ @ Q", "s.toml: [claims] W: uses 'Q', ..."), (2, 3))
    >>> str(c.verdict), c.message, c.claim_shape, c.entries
    ('invalid', "s.toml: [claims] W: uses 'Q', ...", None, 6)
    """
    return ClaimResult(
        parameter=malformed.name, shape=shape, claim=malformed.formula, claim_shape=None, verdict=Verdict.INVALID,
        wrong_entries=[], wrong_description="", diagnosis=[], difference="", counterexample={},
        rel_difference=math.nan, rel_difference_float64=math.nan, grade="-", order=math.nan, fd_order=math.nan,
        steps=[], rel_by_step=[], proved_entries=0, entries=math.prod(shape) if shape else 1,
        message=malformed.message)


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
