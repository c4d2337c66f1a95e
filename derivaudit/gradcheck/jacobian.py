"""Check the Jacobian of a vector-valued function, whole or as vector–Jacobian products.

``check_jacobian(f, jac, x)`` compares ``jac(x)`` (shape ``(m, n)``, ``m``
outputs and ``n`` input entries; or ``out.shape + x.shape``) with columns of
centered differences ``J[:, j] ≈ (f(x + hⱼeⱼ) − f(x − hⱼeⱼ)) / (2hⱼ)`` (error
``O(h²)``; on balls with ``precision="mp"``) and names wrong entries as
``(output, input)`` index pairs.  With ``vjp=True``, ``jac(x, v)`` returns
``vᵀJ`` (x's shape) for a random ``v``: the check of ``x ↦ v·f(x)`` and its
gradient, as a reverse-mode rule is written.  Several inputs: a tuple
(``f(*x)``) or a dict (``f(x)``), one Jacobian per input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from derivaudit.errors import DerivauditError, ShapeError
from derivaudit.gradcheck import diagnosis
from derivaudit.gradcheck.engine import (PRECISIONS, Problem, changed_parts, copied, in_place_error, own_copies,
                                        run_check)
from derivaudit.gradcheck.numeric import DEFAULT_EPS
from derivaudit.gradcheck.packing import Packing, to_numpy
from derivaudit.gradcheck.results import GradientCheckResult, build_result, float64_judged
from derivaudit.constants import UNIT_ROUNDOFF

__all__ = ["check_jacobian"]


def _vector(value, what: str) -> np.ndarray:
    array = np.asarray(to_numpy(value))
    if array.dtype != object:
        array = np.array(array, dtype=np.float64)
    return array.ravel()


def _columns(fvec: Callable, theta: np.ndarray, base: float) -> tuple[np.ndarray, np.ndarray]:
    """Centered-difference columns at h and their uncertainty |D(h) − D(2h)| + roundoff."""
    x = theta.copy()
    f0 = _vector(fvec(x), "f(x)")
    J = np.empty((f0.size, theta.size))
    U = np.empty_like(J)
    for j in range(theta.size):
        quotients = []
        for h in (base * max(1.0, abs(theta[j])), 2 * base * max(1.0, abs(theta[j]))):
            x[j] = theta[j] + h
            plus, up = _vector(fvec(x), "f(x + h·e)"), x[j]
            x[j] = theta[j] - h
            minus, down = _vector(fvec(x), "f(x − h·e)"), x[j]
            x[j] = theta[j]
            quotients.append((plus - minus) / (up - down))
        J[:, j] = quotients[0]
        U[:, j] = np.abs(quotients[0] - quotients[1]) + 2 * UNIT_ROUNDOFF * np.abs(f0) / (base * max(1, abs(theta[j])))
    return J, U


def _ball_columns(fvec: Callable, theta: np.ndarray, dps: int) -> tuple[np.ndarray, np.ndarray]:
    from derivaudit.gradcheck.lifted import as_balls
    from derivaudit.gradcheck.numeric import ball_centered
    columns, bounds = ball_centered(lambda x: as_balls(fvec(x)).ravel(), theta, dps)
    return np.array(columns, dtype=object).T, np.array(bounds, dtype=float).T


def _jacobian_packing(packing: Packing, m: int) -> Packing:
    shapes = tuple((m, int(np.prod(s))) for s in packing.shapes)
    return Packing(packing.kind, packing.names, shapes, ("numpy",) * len(shapes), ())


def _claimed(jac, inputs, packing: Packing, jpacking: Packing, m: int, balls: bool) -> np.ndarray:
    claimed = jac(*inputs) if packing.kind == "tuple" else jac(inputs)
    parts = jpacking.gradient_parts(claimed, "jac")
    flats = []
    for part, (name, shape, _, _) in zip(parts, jpacking.bounds()):
        array = np.asarray(to_numpy(part))
        if array.size != shape[0] * shape[1]:
            raise ShapeError(f"jac returned {array.shape} for {name}, but f has {m} outputs and {name} has "
                             f"{shape[1]} entries: give shape ({m}, {shape[1]}) or out.shape + input shape")
        flats.append(array.reshape(shape).ravel())
    return np.concatenate(flats) if balls else np.concatenate(flats).astype(np.float64)


def _full_check(f, jac, packing, theta, precision, dps, eps) -> GradientCheckResult:
    def call(inputs):
        # every call on its own copies (the columns reuse one working x), and f must not change them
        mine = copied(inputs)
        out = f(*mine) if packing.kind == "tuple" else f(mine)
        changed = changed_parts(packing, mine, inputs)
        if changed:
            raise in_place_error("f", changed)
        return out

    fvec = lambda flat, native=True: call(packing.unflatten(flat, native))   # noqa: E731
    m = _vector(fvec(theta.copy()), "f(x)").size
    jpacking = _jacobian_packing(packing, m)
    notes: list[str] = []
    if precision == "mp":
        result, why = _mp_full(fvec, jac, packing, jpacking, theta, m, dps, notes)
        if result is not None:
            return result
        notes.append(f"precision='mp' fell back to float64: {why}")
    base = DEFAULT_EPS if eps is None else float(eps)
    J, U = _columns(fvec, theta, base)
    analytic = _claimed(own_copies(jac), packing.unflatten(theta.copy()), packing, jpacking, m, False)
    numeric = np.concatenate([J[:, a:b].ravel() for _, _, a, b in packing.bounds()])
    uncertainty = np.concatenate([U[:, a:b].ravel() for _, _, a, b in packing.bounds()])
    judged = float64_judged(np.zeros(analytic.size), analytic, numeric, uncertainty, jpacking)
    notes.append(f"{4 * theta.size + 1} evaluations of f (columns at h and 2h)")
    return build_result(judged, jpacking, method="centered differences (columns)", eps=base, notes=notes,
                        circumstances=diagnosis.circumstances(float32=packing.float32), compared="Jacobian")


def _mp_full(fvec, jac, packing, jpacking, theta, m, dps, notes):
    from derivaudit.gradcheck.precision import one_lifted_check_at_a_time

    return one_lifted_check_at_a_time(_mp_columns)(fvec, jac, packing, jpacking, theta, m, dps, notes)


def _mp_columns(fvec, jac, packing, jpacking, theta, m, dps, notes):
    from derivaudit.gradcheck.balls import all_balls, judge_balls
    from derivaudit.gradcheck.lifted import BallArray, lift_point
    from derivaudit.gradcheck.precision import lifted, probe_lifted

    def run():
        point = lift_point(theta)
        return fvec(point, False), _claimed(jac, packing.unflatten(lift_point(theta), False), packing,
                                              jpacking, m, True)

    probe, why = probe_lifted(run, dps, lambda r: all_balls(r[0]) and all_balls(r[1]), (jac,))
    if probe is None:
        return None, why
    with lifted(dps, (jac,)):
        J, U = _ball_columns(lambda x: fvec(x.view(BallArray), False), theta, dps)
    reference = np.concatenate([J[:, a:b].ravel() for _, _, a, b in packing.bounds()])
    uncertainty = np.concatenate([U[:, a:b].ravel() for _, _, a, b in packing.bounds()])
    analytic = np.asarray(probe[1], dtype=object).ravel()
    judged = judge_balls(np.zeros(analytic.size), analytic, reference, uncertainty, jpacking, dps)
    notes.append(f"{2 * theta.size * m + 1} evaluations of f on balls")
    return build_result(judged, jpacking, method="centered differences on balls (columns)", eps=0.0,
                        notes=notes, precision="mp", dps=dps, compared="Jacobian"), ""


def check_jacobian(f: Callable, jac: Callable, x, *, vjp: bool = False, precision: str = "float64", dps: int = 50,
                   seed: int = 0, eps: float | None = None) -> GradientCheckResult:
    """Check ``jac`` against the Jacobian of the vector-valued ``f`` at ``x``.

    Parameters
    ----------
    f : callable → array
        ``f(x)`` (``f(*x)`` for a tuple of arrays, ``f(x)`` with a dict).
    jac : callable
        ``jac(x)`` → the Jacobian, shape ``(f(x).size, x.size)`` or
        ``f(x).shape + x.shape`` (a tuple / dict of them for several inputs);
        with ``vjp=True``, ``jac(x, v)`` → ``vᵀJ`` in x's structure.
    x : array, tuple of arrays or dict of arrays
    vjp : bool
        Check the vector–Jacobian product with a random ``v`` (seed ``seed``).
    precision, dps, eps
        As for :func:`~derivaudit.check_gradient`.

    Returns
    -------
    GradientCheckResult
        Wrong entries as ``(output, input)`` index pairs (``(name, (i, j))``
        for several inputs); with ``vjp=True`` as for a gradient.

    >>> import numpy as np, derivaudit as da
    >>> f = lambda x: np.array([x[0] * x[1], np.sin(x[0])])
    >>> jac = lambda x: np.array([[x[1], x[0]], [np.cos(x[0]), 0.0]])
    >>> r = da.check_jacobian(f, jac, np.array([0.5, 2.0]))
    >>> r.verdict, r.wrong
    ('fine', ())
    >>> da.check_jacobian(f, lambda x: jac(x).T, np.array([0.5, 2.0])).wrong
    ((0, 1), (1, 0))
    """
    if precision not in PRECISIONS:
        raise DerivauditError(f"precision must be 'float64' or 'mp', not {precision!r}")
    packing, theta = Packing.of(x, named_by=f)
    if not vjp:
        return _full_check(f, jac, packing, theta, precision, dps, eps)
    call = (lambda s: f(*s)) if packing.kind == "tuple" else f
    out0 = np.asarray(to_numpy(call(packing.unflatten(theta.copy()))))
    v = np.random.default_rng(seed).standard_normal(out0.shape)

    def value(inputs, const):
        return np.sum(call(inputs) * const(v))

    def gradient(inputs, const):
        return jac(*inputs, const(v)) if packing.kind == "tuple" else jac(inputs, const(v))

    problem = Problem(packing, theta, value, gradient, functions=(f, jac), who="jac")
    return run_check(problem, precision=precision, dps=dps, eps=eps, sweep=False, seed=seed)
