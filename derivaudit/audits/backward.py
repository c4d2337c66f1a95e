"""Backward intermediates: each ``dF`` of ``[backward]`` checked against the exact ``∂loss/∂F``.

A hand-written backward pass usually names its steps ``dZ2``, ``dA1``,
``dZ1``; checking each against the exact adjoint locates the first wrong
step.  An intermediate that is a constant multiple of the adjoint
(``dZ2 = A2 − Y`` for a loss divided by ``m``) is a convention, not a bug.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import mpmath

from derivaudit.lang.arrays import entries, shape_of
from derivaudit.audits.points import Outputs, PointValues, in_parameter_layout
from derivaudit.audits.results import BackwardCheck, describe_entries
from derivaudit.audits.spec import Model

__all__ = ["backward_pairs", "add_backward_outputs", "check_backward", "constant_factor", "blame_factors",
           "malformed_checks"]


def _adjoint_of(name: str, model: Model) -> str:
    """``F`` when ``name`` is ``d`` + a layer or parameter name ``F`` (``dZ1`` stands for ∂loss/∂Z1), else ""."""
    return name[1:] if name.startswith("d") and (name[1:] in model.local or name[1:] in model.spec.params) else ""


def backward_pairs(model: Model) -> list[tuple[str, str]]:
    """``(dF, F)`` for every backward definition named ``d`` + a layer or parameter name."""
    return [(d.name, _adjoint_of(d.name, model)) for d in model.spec.backward if _adjoint_of(d.name, model)]


def malformed_checks(model: Model) -> list[BackwardCheck]:
    """A :class:`BackwardCheck` marked invalid for each ``[backward]`` intermediate that cannot be evaluated.

    It is not checked (it has no value); its message is the one line of its error.
    """
    return [BackwardCheck(m.name, _adjoint_of(m.name, model), False, "", invalid=m.message)
            for m in model.spec.malformed_in("backward").values()]


def add_backward_outputs(outputs: Outputs, model: Model, pairs) -> None:
    """Add ``bexact:dF`` (the symbols of ``F``, whose adjoints are ``∂loss/∂F``) and ``bclaim:dF``.

    Pairs whose shapes differ get no outputs (:func:`check_backward` says so).
    """
    for name, of in pairs:
        if shape_of(model.values[name]) != shape_of(model.values[of]):
            continue
        outputs.add(f"bexact:{name}", entries(model.values[of]))
        outputs.add(f"bclaim:{name}", entries(model.values[name]))


def check_backward(model: Model, pairs, values: PointValues) -> list[BackwardCheck]:
    """One :class:`BackwardCheck` per pair, from the values evaluated at the random points."""
    checks = []
    for name, of in pairs:
        if f"bexact:{name}" not in values.outputs.slots:
            checks.append(BackwardCheck(name, of, False, f"shape {shape_of(model.values[name])}"
                                                         f" instead of {shape_of(model.values[of])}"))
            continue
        shape = shape_of(model.values[of])
        exact_at = lambda k, name=name: values.at(k, f"bexact:{name}")  # noqa: E731
        claim_at = lambda k, name=name: values.at(k, f"bclaim:{name}")  # noqa: E731
        wrong, _ = values.wrong_indices(exact_at, claim_at, shape)
        factor = None
        if wrong:  # dZ2 = A2 - Y is m·∂loss/∂Z2 when the loss is a mean: a convention, not a bug
            factors = {constant_factor(claim_at(k), exact_at(k)) for k in range(len(values.points))}
            factor = factors.pop() if len(factors) == 1 else None
        # a positive constant is a convention; a negative one flips every later step's sign
        checks.append(BackwardCheck(name, of, not wrong or (factor is not None and factor > 0),
                                    describe_entries(wrong, shape), factor))
    return checks


def constant_factor(claim_vals, exact_vals) -> Fraction | None:
    """``k ≠ 0`` if claim = k·exact in every entry (to 20 digits), as a simple fraction; else None.

    0 is never a factor: a claim that is 0 everywhere carries no gradient at all.
    """
    if not all(mpmath.isfinite(v) for v in list(claim_vals) + list(exact_vals)):
        return None
    tiny = mpmath.mpf(10) ** -30
    ratios = [c / e for c, e in zip(claim_vals, exact_vals) if abs(e) > tiny]
    if not ratios or any(abs(c) > tiny for c, e in zip(claim_vals, exact_vals) if abs(e) <= tiny):
        return None
    k = ratios[0]
    if k == 1 or k == 0 or any(abs(r - k) > abs(k) * mpmath.mpf(10) ** -20 for r in ratios):
        return None
    frac = Fraction(str(mpmath.nstr(k, 25))).limit_denominator(10_000)
    if abs(mpmath.mpf(frac.numerator) / frac.denominator - k) > abs(k) * mpmath.mpf(10) ** -20:
        return None
    return frac


def blame_factors(checks: list[BackwardCheck], model: Model, values: PointValues,
                  layouts: dict[str, str]) -> list[BackwardCheck]:
    """Checks whose factor ``k`` reappears in every claim built on them, marked the first wrong step.

    ``dZ1 = 2·∂loss/∂Z1`` is a convention only if the ``1/2`` is applied
    later; when every claim using ``dZ1`` (directly or through later backward
    definitions) is exactly ``2×`` its gradient, it never was.  One claim
    built on it that is right (the ``1/2`` applied there) keeps it a
    convention: the claims off by ``k`` forgot the factor themselves.
    ``layouts`` gives each comparable claim's layout (same or transposed).
    """
    spec = model.spec
    uses = {d.name: set(d.uses) for d in spec.backward}
    out = []
    for check in checks:
        k = check.factor
        if check.correct and k is not None and k > 0 and k != 1:
            built = [p for p in spec.claims if _depends(spec.claims[p].uses, check.name, uses)]
            factors = {p: _claim_factor(p, model, values, layouts[p]) if p in layouts else None for p in built}
            forgot = tuple(p for p in built if factors[p] == k)
            if built and len(forgot) == len(built):
                check = BackwardCheck(check.name, check.of, False, check.wrong_entries, k, tuple(built))
            elif forgot:  # "applied later" holds only where it is: in the claims that are right
                right = tuple(p for p in built if p in layouts and _claim_is_exact(p, model, values, layouts[p]))
                check = dataclasses.replace(check, applied_in=right, forgotten_in=forgot)
        out.append(check)
    return out


def _claim_at_first_point(p: str, model: Model, values: PointValues, layout: str) -> list:
    """The claim's values at the first point, in the parameter's layout."""
    return in_parameter_layout(values.at(0, f"claim:{p}"), shape_of(model.claims[p]), layout)


def _claim_is_exact(p: str, model: Model, values: PointValues, layout: str) -> bool:
    claim = _claim_at_first_point(p, model, values, layout)
    return not any(values.differs(c, e, 0) for c, e in zip(claim, values.at(0, f"exact:{p}")))


def _claim_factor(p: str, model: Model, values: PointValues, layout: str) -> Fraction | None:
    return constant_factor(_claim_at_first_point(p, model, values, layout), values.at(0, f"exact:{p}"))


def _depends(names, target: str, uses: dict) -> bool:
    """Does a formula using ``names`` use ``target``, directly or through backward definitions?"""
    seen, stack = set(), list(names)
    while stack:
        name = stack.pop()
        if name == target:
            return True
        if name not in seen:
            seen.add(name)
            stack.extend(uses.get(name, ()))
    return False
