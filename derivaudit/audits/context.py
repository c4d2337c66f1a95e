"""What an audit has gathered about a model before its claims are judged one by one."""

from __future__ import annotations

from dataclasses import dataclass

from derivaudit.limits import Limits
from derivaudit.audits.evidence import FiniteDifferences
from derivaudit.audits.graph import ModelGraph
from derivaudit.audits.points import PointValues
from derivaudit.audits.spec import AuditSettings, Model
from derivaudit.audits.witness import BallValues

__all__ = ["Evidence"]


@dataclass
class Evidence:
    """Everything gathered about the model before its claims are judged one by one."""

    model: Model
    graph: ModelGraph
    inputs: tuple
    values: PointValues
    balls: BallValues
    draws: list[dict]
    differences: dict[str, FiniteDifferences]
    claims_float64: dict[str, list[float]]
    settings: AuditSettings
    limits: Limits

    def draw(self, k: int) -> dict:
        """The drawn data's values at evidence point ``k`` (empty without drawn data)."""
        return self.draws[k] if self.draws else {}
