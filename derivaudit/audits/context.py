"""What an audit has gathered about a model before its claims are judged one by one."""

from __future__ import annotations

from dataclasses import dataclass, field

from derivaudit.core.guards import time_budget
from derivaudit.limits import Limits
from derivaudit.audits.evidence import FiniteDifferences
from derivaudit.audits.graph import ModelGraph, model_graph
from derivaudit.audits.points import PointValues
from derivaudit.audits.spec import AuditSettings, Model
from derivaudit.audits.witness import BallValues

__all__ = ["Evidence"]


@dataclass
class Evidence:
    """Everything gathered about the model before its claims are judged one by one.

    The values come from the reverse pass on balls (:attr:`balls`); the
    symbolic gradient (:attr:`graph`, for proofs and the differences shown
    in diagnoses) is built only when first asked for.
    """

    model: Model
    inputs: tuple
    values: PointValues
    balls: BallValues
    draws: list[dict]
    differences: dict[str, FiniteDifferences]
    settings: AuditSettings
    limits: Limits
    #: distinct scalar nodes of the model and its outputs (the work unit of the proof budget)
    nodes: int = 0
    _graph: ModelGraph | None = field(default=None, repr=False)

    @property
    def graph(self) -> ModelGraph:
        """The model's symbolic reverse-mode gradient (built on first use, under ``symbolic_seconds``)."""
        if self._graph is None:
            with time_budget(self.limits.symbolic_seconds, "differentiating the loss", "symbolic_seconds"):
                self._graph = model_graph(self.model)
        return self._graph

    def draw(self, k: int) -> dict:
        """The drawn data's values at evidence point ``k`` (empty without drawn data)."""
        return self.draws[k] if self.draws else {}
