"""Diagnoses of a wrong claim: what mistake would explain it.

The wrong entries by rows/columns (:func:`~derivaudit.audits.results.describe_entries`),
a transposed result, a constant factor (a missing ``1/m``), a reduction that
lost its axis (missing ``keepdims=True``), an activation's derivative from
another activation, and the simplified difference of one wrong entry.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from fractions import Fraction

import mpmath
import numpy as np

from derivaudit.budgets import time_budget
from derivaudit.core.ball_steps import to_mpf
from derivaudit.core.balls import ball_precision, digits_to_bits, exact_ball
from derivaudit.core.reverse import ReverseGraph
from derivaudit.errors import DerivauditError, LimitExceeded
from derivaudit.lang.arrays import entries, entry_label, shape_of
from derivaudit.limits import Limits
from derivaudit.audits.backward import constant_factor
from derivaudit.audits.context import Evidence
from derivaudit.audits.graph import expand_adjoints, forward_chain
from derivaudit.audits.points import PointValues, in_parameter_layout
from derivaudit.audits.proof import shown_difference
from derivaudit.audits.spec import AuditSpec, build, build_what_if, claim_layout

__all__ = ["ACTIVATIONS", "WHAT_IF_DIAGNOSES", "layout_notes", "shape_note", "run_diagnosis",
           "diagnose_wrong", "factor_note", "keepdims_notes", "activation_notes", "activation_call"]

#: activations a forward definition ``A = f(Z)`` may have had confused with another
ACTIVATIONS = ("tanh", "sigmoid", "relu", "softplus", "exp")
#: digits at which a "what if" model is evaluated to compare it with the exact gradient
_WHAT_IF_DPS = 40


def layout_notes(p: str, shape: tuple, claim_shape: tuple, layout: str, values_wrong: bool) -> list[str]:
    """What a claim of another shape than its parameter's means (a transposed product, a lost axis)."""
    if layout == "transposed":
        return [f"the claim has shape {claim_shape}, the transpose of {p}'s {shape}"
                + ("; transposed back it equals the gradient: the product is written "
                   "the wrong way round" if not values_wrong else "")]
    if layout == "squeezed":
        rows = shape[0]
        return [f"the claim has shape {claim_shape} where {p} has shape {shape}: a "
                f"reduction lost its axis (missing keepdims=True); {p} - lr*d{p} would "
                f"broadcast to {(rows, rows) if shape[1] == 1 else (shape[1], shape[1])}"
                + ("; the values themselves are right" if not values_wrong else "")]
    return []


def shape_note(p: str, shape: tuple, claim_shape: tuple) -> str:
    """The diagnosis of a claim whose shape fits its parameter's in no way (not even transposed)."""
    return (f"the claim has shape {claim_shape}, but {p} has shape {shape}: a gradient has its "
            "parameter's shape")


def run_diagnosis(name: str, diagnosis: Callable[[], list[str]], limits: Limits) -> tuple[list[str], str]:
    """``(notes, "")`` from ``diagnosis()``, or ``([], why it was skipped)``.

    Each diagnosis runs under its own budget (``Limits.diagnosis_seconds``)
    and catches its own failures: a diagnosis is a guess about a mistake, so
    whatever goes wrong in it (a what-if model that takes log(0), a budget
    spent) is reported and never touches the verdict.
    """
    try:
        with time_budget(limits.diagnosis_seconds, f"the {name} diagnosis", "diagnosis_seconds"):
            return diagnosis(), ""
    except LimitExceeded as exc:
        return [], f"{name} diagnosis skipped: {exc}"
    except Exception as exc:  # noqa: BLE001 - isolation: a failing guess must not cost the verdict
        return [], f"{name} diagnosis skipped: {type(exc).__name__}: {exc}"


def diagnose_wrong(p: str, wrong: list, witness_point: int, layout: str,
                   evidence: Evidence) -> tuple[list[str], str]:
    """The notes on a claim with wrong entries, and the simplified difference of the first one.

    Every diagnosis runs through :func:`run_diagnosis`; a skipped one leaves
    a note saying why.  The difference is shown with the drawn data of the
    witness point.
    """
    model, values, inputs, limits = evidence.model, evidence.values, evidence.inputs, evidence.limits
    spec = model.spec
    shape = spec.shapes[p]
    claim_shape = shape_of(model.claims[p])
    exact0 = values.at(0, f"exact:{p}")
    claim0 = in_parameter_layout(values.at(0, f"claim:{p}"), claim_shape, layout)
    point0 = values.points[0]
    steps: list[tuple[str, Callable[[], list[str]]]] = [
        ("constant factor", lambda: _factor_notes(claim0, exact0)),
        ("transpose", lambda: _transpose_notes(claim0, exact0, shape, layout, values)),
    ]
    steps += [(name, functools.partial(what_if, spec, p, limits, point0, inputs, exact0))
              for name, what_if in WHAT_IF_DIAGNOSES.items()]
    entry = wrong[0]
    flat = int(np.ravel_multi_index(entry, shape)) if shape else 0
    steps.append(("entry values", lambda: [_entry_note(p, entry, flat, witness_point, layout, claim_shape, values)]))
    notes = []
    for name, diagnosis in steps:
        if name in WHAT_IF_DIAGNOSES and notes:
            # the claim is already explained (k × the gradient, or its transpose): a rebuilt model
            # (each a whole new graph) would not explain it too
            continue
        found, skipped = run_diagnosis(name, diagnosis, limits)
        notes += found + ([skipped] if skipped else [])

    graph = None  # the symbolic gradient, for this display only: built under the audit's guard, not
    if evidence.nodes <= limits.max_proof_nodes:  # the diagnosis's, and only where a proof would be tried
        try:
            graph = evidence.graph
        except LimitExceeded:
            pass

    def difference():
        if graph is None:
            return []
        claim_entry = in_parameter_layout(entries(model.claims[p]), claim_shape, layout)[flat]
        exact_entry = expand_adjoints(entries(graph.gradient[p])[flat], graph)
        difference = (claim_entry - exact_entry).xreplace(evidence.draw(witness_point))
        return [f"claim - exact for {entry_label(p, entry)} = {shown_difference(difference, model, graph, limits)}"]

    shown, skipped = run_diagnosis("difference", difference, limits)
    return notes + ([skipped] if skipped else []), (shown[0] if shown else "")


def _factor_notes(claim0, exact0) -> list[str]:
    k = constant_factor(claim0, exact0)
    return [] if k is None else [factor_note(k)]


def _transpose_notes(claim0, exact0, shape, layout: str, values: PointValues) -> list[str]:
    if not (len(shape) == 2 and shape[0] == shape[1] and layout == "same"):
        return []
    transposed = list(np.array(claim0, dtype=object).reshape(shape).T.flat)
    if any(values.differs(a, b, 0) for a, b in zip(exact0, transposed)):
        return []
    return ["the claim is the transpose of the gradient"]


def _entry_note(p: str, entry, flat: int, k: int, layout: str, claim_shape, values: PointValues) -> str:
    claim = in_parameter_layout(list(range(values.outputs.slots[f"claim:{p}"][1])), claim_shape, layout)[flat]
    where = "the first random point" if k == 0 else f"random point {k + 1}"
    return (f"at {where}, entry {entry_label(p, entry)}: claim {values.printed(k, f'claim:{p}', claim)}, "
            f"exact {values.printed(k, f'exact:{p}', flat)}")


def factor_note(k: Fraction) -> str:
    """What a claim that is ``k`` × the gradient in every entry probably missed."""
    note = f"every entry is {k} × the gradient"
    if k.denominator == 1 and k.numerator > 1:
        note += f": a missing factor 1/{k.numerator} (a missing 1/m?)"
    elif k.numerator == 1 and k.denominator > 1:
        note += f": divided by {k.denominator} once too often"
    elif k == -1:
        note += ": the sign is flipped"
    return note


def _agree(values, exact) -> bool:
    return all(mpmath.isfinite(v) for v in values) and all(
        abs(a - b) <= mpmath.mpf(10) ** -25 * max(abs(a), abs(b), mpmath.mpf(10) ** -10)
        for a, b in zip(values, exact))


def keepdims_notes(spec: AuditSpec, p: str, limits: Limits, point, inputs, exact0) -> list[str]:
    """Would the claim be right if its reductions kept their axis?

    A reduction without ``keepdims=True`` returns a 1-D array that broadcasts
    as a *row*; where the shapes happen to fit (square blocks) the result is
    silently wrong.  The backward definitions and the claim are rebuilt with
    every ``axis=`` reduction keeping its axis and compared again.
    """
    texts = [d.formula for d in spec.backward] + [spec.claims[p].formula]
    if not any("axis" in t and "keepdims=True" not in t for t in texts):
        return []
    try:
        mutated = build(spec, limits=limits, keepdims=True, symbolic_draws=True)
    except DerivauditError:
        return []
    claim = mutated.claims[p]
    if claim_layout(shape_of(claim), spec.shapes[p]) != "same":
        return []
    engine = ReverseGraph(forward_chain(mutated), inputs, mutated.values["loss"])
    values = _what_if_values(engine, entries(claim), point, adjoints=False)
    if _agree(values, exact0):
        return ["with keepdims=True in its reductions the claim is right: a reduction over an axis "
                "lost it and broadcast as a row (missing keepdims=True)"]
    return []


def activation_notes(spec: AuditSpec, p: str, limits: Limits, point, inputs, exact0=None) -> list[str]:
    """Would the claim be right if one activation of the forward pass were another?

    For each forward definition ``A = f(Z)`` with ``f`` an activation, the
    model is rebuilt with ``A = g(Z)`` for every other activation ``g``; if
    the claim is the exact gradient of that model, the claim used ``g``'s
    derivative where ``f``'s belongs.  An alternative model undefined at the
    point (``relu`` for ``sigmoid`` under a log) is simply not the answer.
    """
    for d in spec.forward:
        f, argument = activation_call(d.formula)
        if f is None:
            continue
        for g in ACTIVATIONS:
            if g != f and _explains(spec, p, limits, point, inputs, {d.name: f"{g}({argument})"}):
                return [f"the claim is the exact gradient if {d.name} = {g}({argument}) instead "
                        f"of {f}({argument}): it uses {g}'s derivative where {f}'s belongs"]
    return []


def activation_call(formula: str) -> tuple[str | None, str]:
    """``("tanh", "Z1")`` for ``tanh(Z1)``, ``np.tanh(Z1)`` or ``numpy.tanh(Z1)``; ``(None, "")`` otherwise.

    Read from the formula's syntax tree, so spacing and the NumPy spelling do not matter.

    >>> activation_call("np.tanh(Z1)"), activation_call(" sigmoid( W @ X ) "), activation_call("tanh(Z)*2")
    (('tanh', 'Z1'), ('sigmoid', 'W @ X'), (None, ''))
    """
    try:
        tree = ast.parse(formula.strip(), mode="eval").body
    except SyntaxError:
        return None, ""
    if not (isinstance(tree, ast.Call) and len(tree.args) == 1 and not tree.keywords):
        return None, ""
    head = tree.func
    if isinstance(head, ast.Attribute) and isinstance(head.value, ast.Name) and head.value.id in ("np", "numpy"):
        name = head.attr
    elif isinstance(head, ast.Name):
        name = head.id
    else:
        return None, ""
    return (name, ast.unparse(tree.args[0])) if name in ACTIVATIONS else (None, "")


def _explains(spec: AuditSpec, p: str, limits: Limits, point, inputs, replace: dict[str, str]) -> bool:
    """Is the claim the exact gradient of the model with the forward definitions ``replace``d?"""
    try:
        base = spec.models.get("symbolic draws") or build(spec, limits=limits, symbolic_draws=True)
        mutated = build_what_if(base, replace, limits=limits)
    except DerivauditError:
        return False
    if shape_of(mutated.claims[p]) != spec.shapes[p]:
        return False
    engine = ReverseGraph(forward_chain(mutated), inputs, mutated.values["loss"])
    try:
        exact = _what_if_values(engine, entries(mutated.param_symbols[p]), point, adjoints=True)
        claim = _what_if_values(engine, entries(mutated.claims[p]), point, adjoints=False)
    except (ArithmeticError, ValueError):  # DomainError too; a spent budget (LimitExceeded) goes on up
        return False
    return _agree(claim, exact) and all(mpmath.isfinite(v) for v in exact)


def _what_if_values(engine: ReverseGraph, outputs, point, adjoints: bool) -> list:
    """Adjoints of the symbols ``outputs`` (or values of the expressions) at ``point``, as mpmath numbers."""
    with ball_precision(digits_to_bits(_WHAT_IF_DPS)):
        state = engine.evaluate({s: exact_ball(v) for s, v in zip(engine.inputs, point)})
        balls = [state.adjoint(o) if adjoints else state.value(o) for o in outputs]
        with mpmath.workdps(_WHAT_IF_DPS):
            return [to_mpf(b) if b.is_finite() else mpmath.nan for b in balls]


#: diagnoses that rebuild the model "what if" (each under its own budget), by name
WHAT_IF_DIAGNOSES: dict[str, Callable[..., list[str]]] = {
    "keepdims": keepdims_notes,
    "activation swap": activation_notes,
}
