"""The typed results of :func:`~derivaudit.checks.check.check`.

A :class:`CheckResult` holds one :class:`ComponentResult` per claimed
derivative; a wrong component carries its likely mistakes as
:class:`Diagnosis` objects (a :class:`Mistake` class and what exactly went
wrong), a kink at the point asked its :class:`OneSided` derivatives.
Reports render these objects; nothing here formats text.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

import mpmath
import sympy as sp

from derivaudit.checks.equivalence import Comparison
from derivaudit.errors import DerivauditError
from derivaudit.results import Result
from derivaudit.studies.result import StudyResult
from derivaudit.verdicts import Verdict

__all__ = ["Mistake", "Diagnosis", "OneSided", "ComponentResult", "CheckResult"]

class _Text(str, enum.Enum):
    """An enum whose members print as their text."""

    def __str__(self) -> str:
        return self.value


class Mistake(_Text):
    """Classes of mistakes :func:`check` recognises in a wrong claim."""

    SIGN = "sign flipped"
    FACTOR = "off by a constant factor"
    MISSING_TERM = "missing term"
    EXTRA_TERM = "extra term"
    WRONG_VARIABLE = "derivative with respect to the wrong variable"
    CHAIN_RULE = "chain rule without the inner derivative"
    WRONG_ORDER = "wrong derivative order"


@dataclass(frozen=True)
class Diagnosis:
    """A likely mistake: its class, what exactly went wrong, and the quantity it
    names (the factor, the term, the variable, the inner derivative or the order)."""

    mistake: Mistake
    message: str
    detail: sp.Expr | str | int | None = None

    def __str__(self) -> str:
        return f"{self.mistake} — {self.message}"


@dataclass(frozen=True)
class OneSided:
    """One-sided derivatives at a point: the limits of the backward (left) and
    forward (right) differences, each None where it diverges or is undefined."""

    left: mpmath.mpf | None
    right: mpmath.mpf | None
    reason: str


@dataclass(frozen=True)
class ComponentResult:
    """The audit of one claimed derivative ``∂ⁿf/∂vⁿ``."""

    variable: str
    order: int
    claim: sp.Expr
    exact: sp.Expr
    verdict: Verdict
    comparison: Comparison
    #: likely mistakes, most specific first (empty when correct or unexplained)
    diagnosis: tuple[Diagnosis, ...] = ()
    #: the study at ``evidence_point``, its table with the claim's columns (None when correct and no ``at``)
    evidence: StudyResult | None = dataclasses.field(default=None, repr=False)
    evidence_point: dict[str, sp.Expr] | None = None
    #: the claim and the exact derivative at ``at`` (when given and defined)
    claim_at_point: mpmath.mpf | None = None
    exact_at_point: mpmath.mpf | None = None
    one_sided: OneSided | None = None
    notes: tuple[str, ...] = ()
    #: the claim as the user wrote it
    claim_text: str = ""
    #: a Hessian entry: its ``(i, j)`` and its label (``H[0,1] = d^2f/dxdy``)
    entry: tuple[int, int] | None = None
    label_text: str = ""

    @property
    def correct(self) -> bool:
        """The claim equals the exact derivative (wherever that exists)."""
        return self.comparison.equal

    @property
    def difference(self) -> sp.Expr:
        return self.comparison.difference

    @property
    def counterexample(self) -> dict[str, sp.Expr] | None:
        return self.comparison.counterexample

    @property
    def label(self) -> str:
        if self.label_text:
            return self.label_text
        power = "" if self.order == 1 else f"^{self.order}"
        return f"d{power}f/d{self.variable}{power}"


@dataclass(frozen=True)
class CheckResult(Result):
    """The audit of a claimed derivative or gradient of ``formula``.

    ``components`` holds one :class:`ComponentResult` per claimed derivative
    (one for ``wrt``, one per variable for a gradient).  ``verdict`` is the
    worst of them (wrong > undecided > not differentiable > numerical >
    proved), where a component whose comparison found a counterexample is
    wrong even at a kink; ``exit_code`` and ``ok`` follow from ``verdict``
    (:class:`~derivaudit.results.Result`).  For a
    single derivative the properties ``exact``, ``difference``,
    ``counterexample``, ``diagnosis`` and ``evidence`` read its component.
    """

    formula: sp.Expr
    components: tuple[ComponentResult, ...]
    at: dict[str, sp.Expr] | None
    dps: int
    gradient: bool
    #: the formula as the user wrote it
    formula_text: str = ""
    #: a Hessian check: its variables (components are its entries, row by row)
    hessian: tuple[str, ...] = ()
    #: remarks on the claim as a whole (a claimed Hessian that is not symmetric)
    notes: tuple[str, ...] = ()

    @property
    def wrong_entries(self) -> tuple[tuple[int, int], ...]:
        """The ``(i, j)`` of every wrong entry of a claimed Hessian, row by row."""
        return tuple(c.entry for c in self.components if c.entry is not None and c.comparison.different)

    @property
    def correct(self) -> bool:
        return all(c.correct for c in self.components)

    @property
    def verdict(self) -> Verdict:
        # the comparison decides wrong and undecided (a kink at the point does not excuse a
        # counterexample elsewhere); the kink then outranks a correct comparison
        statuses = {c.comparison.status for c in self.components}
        verdicts = {c.verdict for c in self.components}
        if "different" in statuses or Verdict.WRONG in verdicts:
            return Verdict.WRONG
        if "undecided" in statuses or Verdict.UNDECIDED in verdicts:
            return Verdict.UNDECIDED
        for verdict in (Verdict.NOT_DIFFERENTIABLE, Verdict.NUMERICAL):
            if verdict in verdicts:
                return verdict
        return Verdict.PROVED

    def summary(self, digits: int = 12) -> str:
        """The verdict report as the command line prints it (``digits`` per number)."""
        return self._render("text", digits=digits)

    def _single(self) -> ComponentResult:
        if len(self.components) != 1:
            raise DerivauditError("a gradient check has one result per component; "
                                  "read result.components[i]")
        return self.components[0]

    @property
    def exact(self) -> sp.Expr:
        return self._single().exact

    @property
    def difference(self) -> sp.Expr:
        return self._single().difference

    @property
    def counterexample(self) -> dict[str, sp.Expr] | None:
        return self._single().counterexample

    @property
    def diagnosis(self) -> tuple[Diagnosis, ...]:
        return self._single().diagnosis

    @property
    def evidence(self) -> StudyResult | None:
        return self._single().evidence

