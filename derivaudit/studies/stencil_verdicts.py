"""Verdicts on a study's schemes: a user's weights (Taylor moments) and a claimed order (measured).

A study of user stencils (:func:`~derivaudit.core.custom_stencils.custom_stencil`)
or with a claimed order records one :class:`StencilVerdict` per scheme in
``StudyResult.stencils`` (scheme name → verdict), for the command line and
the reports to show.  Two judgements:

- **the weights** (exact): consistent, with the order its moments give and the
  order the offsets allow, or inconsistent, naming the failing moment
  ``Σ wᵢ oᵢᵏ ≠ k!·[k = d]`` and the weights that would work;
- **a claimed order** ``N`` (measured): the order fitted to the errors
  (:func:`~derivaudit.study.fitted_orders`) is compared with ``N``; the
  claim is ``wrong`` when they differ by more than
  :data:`~derivaudit.verdicts.ORDER_TOLERANCE`, ``undecided`` when no order
  could be fitted (every error 0: the scheme is exact for this function).

The claim applies to the study's user stencils, or to every scheme when it
has none.  An inconsistent stencil or a wrong claim makes the command exit 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from derivaudit.core.custom_stencils import CustomStencil, custom_stencil
from derivaudit.core.stencils import ComplexStep, Stencil
from derivaudit.errors import DerivauditError, SpecError
from derivaudit.studies.orders import fitted_orders
from derivaudit.verdicts import ORDER_TOLERANCE, Verdict

__all__ = ["StencilVerdict", "check_claimed_order", "stencil_verdicts", "stencil_table",
           "sweep_stencils", "SWEEP_KEYS"]

#: keys a sweep file's ``[[study]]`` may add for user stencils
SWEEP_KEYS = ("stencil", "claimed_order")


@dataclass(frozen=True)
class StencilVerdict:
    """What a study found about one scheme; numbers exact, as text.

    ``offsets`` and ``weights`` are as the user gave them; ``moments`` are
    ``Σ wᵢ oᵢᵏ`` for ``k = 0 … len(moments) − 1``; ``order`` is the order the
    moments give (``≤ 0`` when inconsistent) and ``best_order`` the highest
    the offsets allow, reached by ``suggested_weights``.  ``claim`` is the
    verdict on ``claimed_order`` (None without a claim).  ``notes`` is the
    diagnosis, one line each.  Built-in schemes carry empty moments.
    """

    scheme: str
    derivative: int
    offsets: tuple[str, ...]
    weights: tuple[str, ...]
    moments: tuple[str, ...]
    consistent: bool
    failures: tuple[str, ...]
    order: int
    error_constant: str
    best_order: int | None
    suggested_weights: tuple[str, ...]
    fitted_order: float
    claimed_order: int | None
    claim: Verdict | None
    notes: tuple[str, ...]

    @property
    def wrong(self) -> bool:
        """Inconsistent weights, or a claimed order the measurement contradicts."""
        return not self.consistent or self.claim is Verdict.WRONG

    def lines(self) -> list[str]:
        """The verdict as text: a heading with the offsets and weights, then the notes indented."""
        head = self.scheme
        if self.weights:
            head += f": offsets {', '.join(self.offsets)}; weights {', '.join(self.weights)}"
        body = list(self.notes)
        if self.moments:
            body.insert(0, f"moments Σ wᵢ oᵢᵏ, k = 0…{len(self.moments) - 1}: {', '.join(self.moments)}")
        return [head] + [f"  {line}" for line in body]

    def as_dict(self) -> dict:
        """Plain values (for JSON): the verdicts as their text."""
        values = asdict(self)
        values["claim"] = None if self.claim is None else str(self.claim)
        return values


def check_claimed_order(claimed_order) -> None:
    """A claimed order is None or a whole number ≥ 1 (checked before the sweep runs)."""
    if claimed_order is not None and (not isinstance(claimed_order, int) or isinstance(claimed_order, bool)
                                      or claimed_order < 1):
        raise DerivauditError(f"claimed order must be a whole number ≥ 1, not {claimed_order!r}")


def _judge_claim(claimed: int, fitted: float, theory: int) -> tuple[Verdict, str]:
    """The verdict on a claimed order and the line explaining it."""
    if math.isnan(fitted):
        return Verdict.UNDECIDED, (f"claimed order {claimed}: {Verdict.UNDECIDED} — too few non-zero errors "
                                   "to fit an order (the scheme may be exact for this function); "
                                   "use larger steps or a function that is not a low-degree polynomial")
    measured = round(fitted, 2) + 0.0  # no "-0.00"
    within = f"measured {measured:.2f}, tolerance ±{ORDER_TOLERANCE}; Taylor moments give order {theory}"
    if abs(fitted - claimed) <= ORDER_TOLERANCE:
        return Verdict.NUMERICAL, f"claimed order {claimed}: {Verdict.NUMERICAL} ({within})"
    why = ("the weights cannot reach the claimed order" if theory < claimed else
           "the measurement departs from the moments: the leading error term may vanish at this point, "
           "the steps may not be small enough, or f may not be smooth there")
    return Verdict.WRONG, f"claimed order {claimed}: {Verdict.WRONG} ({within}); {why}"


def _verdict(st, fitted: float, claimed_order: int | None) -> StencilVerdict:
    """A user stencil's verdict in full; a named scheme's carries its terms and the claim only."""
    claim, notes = None, st.notes() if isinstance(st, CustomStencil) else []
    if claimed_order is not None:
        claim, line = _judge_claim(claimed_order, fitted, st.accuracy)
        notes.append(line)
    measured = dict(fitted_order=fitted, claimed_order=claimed_order, claim=claim, notes=tuple(notes))
    if isinstance(st, CustomStencil):
        return StencilVerdict(st.name, st.derivative, st.given_offsets, st.given_weights,
                              tuple(map(str, st.moments)), st.consistent, tuple(st.failures()), st.accuracy,
                              str(st.error_constant), st.best_accuracy, tuple(map(str, st.suggested_weights)),
                              **measured)
    real = isinstance(st, Stencil)  # not the complex step, nor a tensor product (no single constant)
    return StencilVerdict(st.name, st.derivative, tuple(map(str, st.offsets)) if real else (),
                          tuple(map(str, st.weights)) if real else (), (), True, (), st.accuracy,
                          str(st.error_constant) if isinstance(st, (Stencil, ComplexStep)) else "", None, (),
                          **measured)


def stencil_verdicts(study, stencils: Sequence, claimed_order: int | None) -> dict[str, StencilVerdict]:
    """A :class:`StencilVerdict` per judged scheme of ``study`` (a StudyResult), by scheme name.

    Judged are the user stencils, and with a claim every scheme it applies to
    (the user stencils, or all schemes when there are none); empty when none is.
    """
    custom = [st for st in stencils if isinstance(st, CustomStencil)]
    judged = custom or (list(stencils) if claimed_order is not None else [])
    if not judged:
        return {}
    frame = fitted_orders(study)
    fitted = dict(zip(frame["scheme"], frame["fitted_order"]))
    return {st.name: _verdict(st, float(fitted.get(st.name, math.nan)), claimed_order) for st in judged}


def _verdicts(studies) -> list[StencilVerdict]:
    studies = [studies] if not isinstance(studies, (list, tuple)) else studies
    return [v for s in studies for v in s.stencils.values()]


_TABLE_COLUMNS = ["scheme", "derivative", "offsets", "weights", "moments", "consistent", "order",
                  "best_order", "suggested_weights", "fitted_order", "claimed_order", "claim", "verdict",
                  "notes"]


def stencil_table(study) -> pd.DataFrame:
    """The study's stencil verdicts as a table, one row per judged scheme (empty when none).

    Lists are joined with ``", "`` (``moments`` are ``Σ wᵢ oᵢᵏ`` for ``k = 0, 1, …``),
    ``notes`` with ``"; "``; ``verdict`` is the first note.
    """
    rows = []
    for v in _verdicts(study):
        rows.append({"scheme": v.scheme, "derivative": v.derivative, "offsets": ", ".join(v.offsets),
                     "weights": ", ".join(v.weights), "moments": ", ".join(v.moments),
                     "consistent": v.consistent, "order": v.order, "best_order": v.best_order,
                     "suggested_weights": ", ".join(v.suggested_weights), "fitted_order": v.fitted_order,
                     "claimed_order": v.claimed_order, "claim": "" if v.claim is None else str(v.claim),
                     "verdict": v.notes[0] if v.notes else "", "notes": "; ".join(v.notes)})
    return pd.DataFrame(rows, columns=_TABLE_COLUMNS)


def _sweep_stencil(spec, order: int, where: str) -> CustomStencil:
    if not isinstance(spec, Mapping):
        raise SpecError(f"{where}: stencil must be a table {{ offsets = [...], weights = [...] }}")
    unknown = sorted(set(spec) - {"offsets", "weights", "name"})
    if unknown or not {"offsets", "weights"} <= set(spec):
        raise SpecError(f"{where}: a stencil has the keys offsets, weights and optionally name; "
                        f"got {', '.join(sorted(spec))}")
    try:
        return custom_stencil(spec["offsets"], spec["weights"], derivative=order, name=spec.get("name"))
    except SpecError:
        raise
    except DerivauditError as exc:
        raise SpecError(f"{where}: {exc}") from None


def sweep_stencils(values: dict, where: str) -> dict:
    """A ``[[study]]``'s ``stencil`` and ``claimed_order`` keys as StudyTask arguments.

    ``stencil = { offsets = [...], weights = [...], name = "..." }`` (or a list
    of such tables) adds user stencils for the study's ``order``; without a
    ``schemes`` key the study runs only them.  ``claimed_order = N`` passes on.
    """
    values = dict(values)
    specs = values.pop("stencil", None)
    options = dict(values.pop("options", {}))
    if "claimed_order" in values:
        options["claimed_order"] = values.pop("claimed_order")
    if specs is not None:
        specs = specs if isinstance(specs, list) else [specs]
        order = values.get("order", 1)
        stencils = tuple(_sweep_stencil(s, order, f"{where}, stencil {i + 1}") for i, s in enumerate(specs))
        values["schemes"] = tuple(values.get("schemes", ())) + stencils
    if options:
        values["options"] = options
    return values
