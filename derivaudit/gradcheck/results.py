"""What a gradient check returns, and the judging of claimed against reference gradients.

:class:`GradientCheckResult` holds one check: the claimed gradient ``g``, the
reference ``n``, the relative difference ``‖g − n‖/(‖g‖ + ‖n‖)`` with its word
from :data:`derivaudit.verdicts.GRADIENT_BANDS`, the wrong entries and a
suggested cause.  A check of several inputs (a dict of parameters, the
floating inputs of a layer, a tuple) has one part per input in ``.parts``;
its ``.wrong`` lists ``(name, index)`` pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from derivaudit.gradcheck.diagnosis import NEGLIGIBLE, suggest_cause
from derivaudit.results import Result
from derivaudit.verdicts import GRADIENT_BANDS, GRADIENT_WORDS, gradient_band, relative_difference

__all__ = ["THRESHOLDS", "COMPARED", "GradientCheckResult", "Judged", "build_result", "check_word"]

#: relative-difference thresholds: below the first fine, the second ok, the third look again
THRESHOLDS = tuple(bound for bound, _ in GRADIENT_BANDS)
#: what a check of code compares with its reference (``GradientCheckResult.compared``)
COMPARED = ("gradient", "Hessian", "Hessian–vector product", "Jacobian")


def check_word(relative: float, wrong_errors=()) -> str:
    """The band word of a check: that of ``relative``, and at least ``look again`` when entries are wrong.

    ``wrong_errors`` are the relative errors ``|gᵢ − nᵢ|/(|gᵢ| + |nᵢ|)`` of
    the wrong entries.  A check with a wrong entry never reads ``fine`` or
    ``ok`` (its :attr:`GradientCheckResult.ok` is False), however small the
    relative difference of the whole: at 50 digits a wrong entry may differ
    by 1e-12 and still be certified wrong.

    >>> check_word(3e-9), check_word(3e-9, [2e-9]), check_word(3e-9, [0.5])
    ('fine', 'look again', 'bug')
    """
    words = [gradient_band(relative)]
    if len(wrong_errors):
        words += [GRADIENT_WORDS[2]] + [gradient_band(float(e)) for e in wrong_errors]
    return max(words, key=GRADIENT_WORDS.index)


@dataclass(frozen=True)
class GradientCheckResult(Result):
    """Outcome of :func:`~derivaudit.check_gradient` (and of ``check_layer`` / ``check_jacobian``).

    ``analytic`` is the claimed gradient, ``numeric`` the reference (both in
    θ's shape; flat for several inputs); ``component_errors`` is
    ``|gᵢ − nᵢ| / (|gᵢ| + |nᵢ|)``; ``uncertainty`` the error bound of each
    ``nᵢ``; ``wrong`` the entries that disagree beyond it, worst first (index
    tuples, or ``(name, index)`` pairs when there are ``parts``).
    ``precision`` is ``"float64"`` or ``"mp"`` (then ``dps`` digits).
    ``compared`` names what was checked (:data:`COMPARED`): ``"gradient"``,
    ``"Hessian"``, ``"Hessian–vector product"`` or ``"Jacobian"``.

    ``verdict`` is a word of :data:`~derivaudit.verdicts.GRADIENT_WORDS`
    (:func:`check_word`); ``ok`` is True exactly for ``fine`` and ``ok``
    (relative difference below the "look again" threshold and no entry
    wrong), and ``exit_code`` is 1 otherwise.
    """

    theta: np.ndarray = field(repr=False)
    analytic: np.ndarray = field(repr=False)
    numeric: np.ndarray = field(repr=False)
    method: str
    eps: float
    relative_difference: float
    verdict: str
    component_errors: np.ndarray = field(repr=False)
    uncertainty: np.ndarray = field(repr=False)
    wrong: tuple
    cause: str
    notes: tuple[str, ...]
    sweep: pd.DataFrame | None = field(repr=False, default=None)
    precision: str = "float64"
    dps: int | None = None
    parts: dict = field(repr=False, default_factory=dict)
    labels: tuple | None = field(repr=False, default=None)
    compared: str = "gradient"

    @property
    def gradients(self) -> tuple[GradientCheckResult, ...]:
        """One result per input (the parts, in order), or this result alone."""
        return tuple(self.parts.values()) if self.parts else (self,)

    def _label(self, flat: int):
        if self.labels is not None:
            return self.labels[flat]
        return tuple(int(i) for i in np.unravel_index(flat, self.theta.shape))

    def worst(self, count: int = 5) -> pd.DataFrame:
        """The ``count`` worst entries: ``index, analytic, numeric, difference, rel_error``."""
        errors = np.nan_to_num(np.asarray(self.component_errors, float).ravel(), nan=np.inf)
        order = np.argsort(-errors, kind="stable")
        g, n = np.asarray(self.analytic, float).ravel(), np.asarray(self.numeric, float).ravel()
        rows = [{"index": self._label(int(k)), "analytic": float(g[k]), "numeric": float(n[k]),
                 "difference": float(g[k] - n[k]), "rel_error": float(errors[k])} for k in order[:count]]
        return pd.DataFrame(rows, columns=["index", "analytic", "numeric", "difference", "rel_error"])

    def summary(self, count: int = 5) -> str:
        """A readable report: metric, verdict, worst entries, suggested cause, notes (and one line per part)."""
        raised = "" if self.verdict == gradient_band(self.relative_difference) else \
            f", as {len(self.wrong)} wrong entries are"  # a wrong entry outranks a small whole
        lines = [f"relative difference {self.relative_difference:.3e}: {self.verdict}{raised} "
                 f"(fine < {THRESHOLDS[0]:g}, look again ≥ {THRESHOLDS[1]:g}, bug ≥ {THRESHOLDS[2]:g})",
                 f"numeric {self.compared}: {self.method}, ε = {self.eps:g}"
                 + (f" ({self.dps} digits)" if self.precision == "mp" else "")]
        for name, part in self.parts.items():
            state = "ok" if part.ok else f"{len(part.wrong)} of {part.theta.size} entries wrong"
            lines.append(f"  {name}: relative difference {part.relative_difference:.3e}: {part.verdict}, {state}"
                         + (f"; {part.cause}" if part.cause else ""))
        size = self.theta.size
        if self.wrong:
            lines.append(f"{len(self.wrong)} of {size} entries disagree; worst entries:")
        else:
            lines.append(f"no entry disagrees beyond the numeric uncertainty ({size} entries); largest differences:")
        table = self.worst(count)
        if len(table):
            shown = table.assign(index=[str(i) for i in table["index"]])
            lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
        if self.cause:
            lines.append(f"suggested cause: {self.cause}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class Judged:
    """The comparison of one flat claimed gradient with its reference, before it becomes a result.

    ``relative`` is the relative difference of the whole, ``part_relative``
    that of each part (both computed by the caller: in float64 or in balls).
    """

    theta: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    component: np.ndarray
    uncertainty: np.ndarray
    bad: np.ndarray
    relative: float
    part_relative: list[float]


def component_errors(analytic: np.ndarray, numeric: np.ndarray, difference: np.ndarray | None = None):
    """``|gᵢ − nᵢ| / (|gᵢ| + |nᵢ|)`` entry by entry (0 where both are 0)."""
    difference = np.abs(analytic - numeric) if difference is None else np.abs(difference)
    sizes = np.abs(analytic) + np.abs(numeric)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sizes > 0, difference / np.where(sizes > 0, sizes, 1), 0.0)


def float64_judged(theta, analytic, numeric, uncertainty, packing) -> Judged:
    """Entries wrong in float64: in the "look again" band or worse, beyond 10× the uncertainty, not negligible."""
    difference = np.abs(analytic - numeric)
    component = component_errors(analytic, numeric, difference)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    bad = (component >= THRESHOLDS[1]) & (difference > 10 * uncertainty) & (difference > NEGLIGIBLE * scale)
    parts = [relative_difference(analytic[a:b], numeric[a:b]) for _, _, a, b in packing.bounds()]
    return Judged(theta, analytic, numeric, component, uncertainty, bad,
                  relative_difference(analytic, numeric), parts)


def _ordered_wrong(judged: Judged, a: int, b: int) -> list[int]:
    bad = judged.bad[a:b]
    order = np.argsort(-np.where(bad, judged.component[a:b], -1), kind="stable")[:int(bad.sum())]
    return [int(k) for k in order]


def _part(judged: Judged, name, shape, a, b, relative, common: dict) -> GradientCheckResult:
    wrong = tuple(tuple(int(i) for i in np.unravel_index(k, shape)) for k in _ordered_wrong(judged, a, b))
    g, n = judged.analytic[a:b].reshape(shape), judged.numeric[a:b].reshape(shape)
    uncertainty = judged.uncertainty[a:b].reshape(shape)
    component = judged.component[a:b].reshape(shape)
    verdict = check_word(relative, [component[w] for w in wrong])
    cause = suggest_cause(g, n, wrong, uncertainty)
    if not cause and verdict in ("look again", "bug"):
        cause = ("small disagreement spread over the entries: f may be non-smooth near θ "
                 "(relu/abs/max kinks), computed partly in float32, or noisy")
    return GradientCheckResult(judged.theta[a:b].reshape(shape), g, n, relative_difference=relative,
                               verdict=verdict, component_errors=component,
                               uncertainty=uncertainty, wrong=wrong, cause=cause, **common)


def build_result(judged: Judged, packing, *, method: str, eps: float, notes, sweep=None, precision="float64",
                 dps=None, circumstances=(), compared: str = COMPARED[0]) -> GradientCheckResult:
    """The result of a check: one part per input when there are several, causes and notes attached.

    ``circumstances`` (from :func:`~derivaudit.gradcheck.diagnosis.circumstances`)
    are notes, and lead the cause when the check did not pass; ``compared`` is one of
    :data:`COMPARED`.
    """
    if compared not in COMPARED:
        raise ValueError(f"compared must be one of {COMPARED}, not {compared!r}")
    common = dict(method=method, eps=eps, notes=tuple(notes), precision=precision, dps=dps, compared=compared)
    bounds = list(packing.bounds())
    parts = {name: _part(judged, name, shape, a, b, judged.part_relative[k], common)
             for k, (name, shape, a, b) in enumerate(bounds)}
    if packing.kind == "array":
        single = parts[bounds[0][0]]
        result = single
    else:
        wrong = tuple((name, index) for name, part in parts.items() for index in part.wrong)
        wrong = tuple(sorted(wrong, key=lambda w: -float(parts[w[0]].component_errors[w[1]])))
        cause = "; ".join(f"{name}: {part.cause}" for name, part in parts.items() if part.cause)
        labels = tuple(packing.label(k) for k in range(packing.size))
        word = check_word(judged.relative, [parts[name].component_errors[index] for name, index in wrong])
        result = GradientCheckResult(judged.theta, judged.analytic, judged.numeric,
                                     relative_difference=judged.relative, verdict=word,
                                     component_errors=judged.component, uncertainty=judged.uncertainty,
                                     wrong=wrong, cause=cause, parts=parts, labels=labels, **common)
    if circumstances:
        failing = not result.ok
        lead = "; ".join(circumstances)
        cause = f"{lead}; {result.cause}" if failing and result.cause else (lead if failing else result.cause)
        result = _replace(result, cause=cause, notes=tuple(notes) + tuple(circumstances))
    return _replace(result, sweep=sweep) if sweep is not None else result


def _replace(result: GradientCheckResult, **changes) -> GradientCheckResult:
    from dataclasses import replace
    return replace(result, **changes)
