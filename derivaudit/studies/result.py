"""What a convergence study returns: :class:`StudyResult` (and :class:`SweepResult` for many).

The numbers are a pandas DataFrame at ``.table`` (one row per scheme × step,
columns in :data:`~derivaudit.studies.sweep.TABLE_COLUMNS`); what the study
was — formula, variable, point, precision, digits, the float64 error model,
a kink at the point, the verdicts on user stencils and claimed orders — are
typed attributes of the result, so a copy or a slice of the table loses
nothing the reports need (pandas drops ``DataFrame.attrs`` on many
operations).  ``.table`` is the one way to the DataFrame: a result is not a
DataFrame and does not pretend to be one.

A study claims nothing unless it is given user stencils or a claimed order,
so its :attr:`~StudyResult.verdict` is ``Verdict.MEASURED``; with them it
is the worst stencil verdict (wrong > undecided > numerically).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from derivaudit.results import Result
from derivaudit.verdicts import Verdict

__all__ = ["StudyResult", "SweepResult", "study_parts", "stencil_verdict", "combine", "labelled"]


def stencil_verdict(verdicts) -> Verdict:
    """The verdict of a study's stencil verdicts: wrong > undecided > numerically, else measured."""
    verdicts = list(verdicts)
    if any(v.wrong for v in verdicts):
        return Verdict.WRONG
    if any(v.claim is Verdict.UNDECIDED for v in verdicts):
        return Verdict.UNDECIDED
    return Verdict.NUMERICAL if any(v.claim is not None for v in verdicts) else Verdict.MEASURED


@dataclass(frozen=True, eq=False)
class StudyResult(Result):
    """A convergence study: the table and what it is a study of.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per scheme × step (:func:`~derivaudit.studies.sweep.study`).
    formula, formula_typed : str
        ``f`` in canonical form, and as the user typed it.
    wrt : str
        The variable, or ``"x,y"`` for a mixed partial.
    point, point_typed : dict of str to str
        The point (exact values as text), and as typed.
    derivative : int
        The order ``d`` of the derivative.
    exact_derivative : str
        ``f⁽ᵈ⁾`` as text.
    precision : ``"mp"`` or ``"float64"``
    dps : int
        Significant digits of every reported value (of the exact ones in float64).
    error_model : dict or None
        float64 only: per scheme ``predicted_best_eps`` and ``predicted_min_error``.
    not_differentiable : dict or None
        The one-sided derivatives when the point is a kink (``message`` says it in words).
    order_notes : dict of str to str
        Why a scheme's observed order departs from its theoretical one.
    stencils : dict of str to StencilVerdict
        The verdicts on user stencils and on a claimed order, by scheme.
    """

    table: pd.DataFrame = field(repr=False)
    formula: str
    formula_typed: str
    wrt: str
    point: dict
    point_typed: dict
    derivative: int
    exact_derivative: str
    precision: str
    dps: int
    error_model: dict | None = None
    not_differentiable: dict | None = None
    order_notes: dict = field(default_factory=dict)
    stencils: dict = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return stencil_verdict(self.stencils.values())

    def meta(self) -> dict:
        """The metadata as a plain dict (what the study's reports read); no table."""
        return {name: value for name, value in vars(self).items() if name != "table"}

    def summary(self, digits: int = 20) -> str:
        """The study as the command line prints it: header, table (``digits`` per number), orders, verdicts."""
        return self._render("text", digits=digits)


def study_parts(study) -> tuple[pd.DataFrame, Mapping]:
    """``(table, metadata)`` of a :class:`StudyResult`, or of a bare study table (metadata empty).

    The functions that read a study (:func:`~derivaudit.studies.orders.fitted_orders`,
    the reports) accept either; a bare table is read as an mp study with no
    error model, no kink and no notes.
    """
    if isinstance(study, StudyResult):
        return study.table, study.meta()
    if isinstance(study, pd.DataFrame):
        return study, {}
    raise TypeError(f"expected the StudyResult derivaudit.study returned, got a {type(study).__name__}")


@dataclass(frozen=True, eq=False)
class SweepResult(Result):
    """Many studies (``derivaudit sweep``, :func:`~derivaudit.studies.parallel.study_many`).

    ``studies`` are the :class:`StudyResult` in the sweep file's order;
    ``verdict`` is the worst of theirs; ``source`` names the sweep file.
    """

    studies: tuple[StudyResult, ...]
    source: str = ""

    @property
    def verdict(self) -> Verdict:
        return stencil_verdict(v for s in self.studies for v in s.stencils.values())

    @property
    def table(self) -> pd.DataFrame:
        """Every study's table in one: ``study, formula, wrt, point`` then the study's columns."""
        return combine(self.studies)


def combine(studies) -> pd.DataFrame:
    """One long table of :class:`~derivaudit.studies.result.StudyResult`: ``study, formula, wrt, point``
    followed by each study's columns."""
    frames = []
    for i, result in enumerate(studies):
        frames.append(labelled(result.table, result, i))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def labelled(table: pd.DataFrame, result, i: int) -> pd.DataFrame:
    """``table`` (of study ``result``, number ``i + 1``) led by the columns ``study, formula, wrt, point``."""
    point = ", ".join(f"{k}={v}" for k, v in (result.point_typed or result.point).items())
    frame = table.copy()
    frame.insert(0, "point", point)
    frame.insert(0, "wrt", result.wrt)
    frame.insert(0, "formula", result.formula_typed or result.formula)  # as the user typed it
    frame.insert(0, "study", i + 1)
    return frame
