"""Second-order checks of NumPy code: a claimed Hessian, or Hessian–vector products.

``check_hessian(f, hess, x)`` compares ``H = hess(x)`` (shape ``(n, n)`` or
``x.shape + x.shape``, ``n = x.size``, entries in C order) with a reference
Hessian ``R`` entry by entry, judged like a gradient: the relative difference
``‖H − R‖_F / (‖H‖_F + ‖R‖_F)`` with the bands of
:data:`derivaudit.verdicts.GRADIENT_BANDS`, the wrong entries named as
``(i, j)`` (a wrong mixed partial written into both halves is named twice,
``(0, 1)`` and ``(1, 0)``), a suggested cause (a claim that is not symmetric
where the true Hessian is, a kink within the step).

The reference (``grad`` is the user's gradient, optional):

- with ``grad``, float64: columns of centered differences of ``grad``,
  ``R[:, j] = (g(x + hⱼeⱼ) − g(x − hⱼeⱼ)) / (2hⱼ)`` (error ``O(h²)``, ``2n``
  calls); above :data:`THOROUGH_N` entries forward differences
  ``(g(x + hⱼeⱼ) − g(x)) / hⱼ`` at ``h ≈ u^(1/2)`` (error ``O(h)``, ``n + 1``
  calls, what ``approx_fprime`` over the gradient costs).  The asymmetry
  ``|Rᵢⱼ − Rⱼᵢ|`` of the reference (the true Hessian is symmetric) is its
  uncertainty at no cost; a column with an entry that looks wrong is measured
  again, centered at ``hⱼ`` and ``2hⱼ``, before the entry is named.  ``grad`` is first compared with ``f`` along random directions; a
  gradient that disagrees is not used (the note says so);
- without ``grad``, float64: the second differences of ``f``,
  ``(f(x+hᵢeᵢ+hⱼeⱼ) − f(x+hᵢeᵢ−hⱼeⱼ) − f(x−hᵢeᵢ+hⱼeⱼ) + f(x−hᵢeᵢ−hⱼeⱼ)) / (4hᵢhⱼ)``
  at ``h ≈ u^(1/4)`` and ``2h`` (error ``O(h²)``; ``≈ 4n²`` calls);
- ``precision="mp"``: the same two references on balls
  (:mod:`derivaudit.gradcheck.hessian_balls`), certified far below ``10^-dps``.

``check_hvp(grad, hvp, x, v)`` compares ``hvp(x, v)`` with the directional
derivative of ``grad`` along ``v``, ``(g(x + hv) − g(x − hv)) / (2h)``,
without forming the Hessian (``v`` random when omitted).

>>> import numpy as np, derivaudit as da
>>> f = lambda x: x[0] ** 3 * x[1] + np.exp(x[0] * x[1])
>>> def hess(x):
...     e = np.exp(x[0] * x[1])
...     mixed = 3 * x[0] ** 2 + (1 + x[0] * x[1]) * e
...     return np.array([[6 * x[0] * x[1] + x[1] ** 2 * e, mixed], [mixed, x[0] ** 2 * e]])
>>> r = da.check_hessian(f, hess, np.array([0.5, -1.25]), precision="mp")
>>> r.verdict, r.relative_difference < 1e-25, r.wrong
('fine', True, ())
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from derivaudit.errors import DerivauditError, ShapeError
from derivaudit.gradcheck.engine import own_copies, refusing_changes, validate_settings
from derivaudit.gradcheck.hessian_parts import (claimed_matrix, gradient_disagrees, hessian_cause, hessian_packing,
                                                kinks_in, objective_of, vector_of)
from derivaudit.gradcheck.numeric import DEFAULT_EPS, FORWARD_EPS
from derivaudit.gradcheck.packing import Packing, finite_float64, to_numpy
from derivaudit.gradcheck.results import THRESHOLDS, GradientCheckResult, build_result, float64_judged
from derivaudit.studies.error_model import UNIT_ROUNDOFF

__all__ = ["check_hessian", "check_hvp", "SECOND_EPS", "THOROUGH_N", "hvp_directions"]

#: above this many entries the columns of grad are forward differences (n + 1 calls, as approx_fprime)
THOROUGH_N = 50
#: base step of second differences of f: ≈ u^(1/4), balancing truncation ∝ h² and roundoff ∝ u/h²
SECOND_EPS = 1e-4


def _plain_point(x, what: str = "x") -> np.ndarray:
    if isinstance(x, (dict, tuple)):
        raise DerivauditError(f"{what} must be one array for a second-order check (its entries in C order "
                              "index the Hessian); stack several parameters into one vector")
    array = finite_float64(to_numpy(x), f"{what} must be an array of real numbers",
                           f"{what} has entries that are not finite")
    if array.size == 0:
        raise DerivauditError(f"{what} has no entries")
    return array










def _gradient_columns(gvec, theta, base, columns=None, g0=None):
    """Differences of ``gvec`` for the given columns (default all): centered, or forward from ``g0`` when
    given; ``(D, steps)``."""
    x = theta.copy()
    columns = range(theta.size) if columns is None else columns
    out = np.empty((theta.size, len(columns)))
    steps = np.empty(len(columns))
    for k, j in enumerate(columns):
        t = theta[j]
        x[j] = t + base * max(1.0, abs(t))
        plus, up = gvec(x), x[j]
        if g0 is None:
            x[j] = t - base * max(1.0, abs(t))
            minus, down = gvec(x), x[j]
        else:
            minus, down = g0, t
        x[j] = t
        out[:, k] = (plus - minus) / (up - down)
        steps[k] = up - down
    return out, steps


def _from_gradient(gvec, theta, analytic, base):
    """float64 reference from the user's gradient: centered columns at h (forward above
    :data:`THOROUGH_N`), the columns of suspicious entries again centered at h and 2h."""
    n = theta.size
    g0 = gvec(theta.copy())
    fast = n > THOROUGH_N
    R, steps = _gradient_columns(gvec, theta, FORWARD_EPS if fast else base, g0=g0 if fast else None)
    roundoff = 4 * UNIT_ROUNDOFF * (np.abs(g0)[:, None] + np.max(np.abs(g0))) / steps[None, :]
    # the true Hessian is symmetric: the asymmetry of R measures its error at no cost
    uncertainty = roundoff + np.abs(R - R.T)
    difference = np.abs(analytic - R)
    suspicious = (difference >= THRESHOLDS[1] * (np.abs(analytic) + np.abs(R))) & (difference > 10 * uncertainty)
    columns = np.flatnonzero(suspicious.any(axis=0))
    if len(columns):
        at_h, at_steps = _gradient_columns(gvec, theta, base, columns)
        again, _ = _gradient_columns(gvec, theta, 2 * base, columns)
        R[:, columns] = at_h
        uncertainty[:, columns] = 4 * UNIT_ROUNDOFF * (np.abs(g0)[:, None] + np.max(np.abs(g0))) / at_steps \
            + np.abs(at_h - again)
    how = "forward" if fast else "centered"
    return R, uncertainty, (f"{how} differences of grad (columns), {len(columns)} suspicious columns measured "
                            f"again centered at h and 2h: {(n if fast else 2 * n) + 4 * len(columns) + 1} calls "
                            "of grad")


def _second_differences(f, theta, base):
    """Second differences of ``f`` at every entry (matrix), steps ``hᵢ = base·max(1, |xᵢ|)``."""
    n = theta.size
    x = theta.copy()
    h = base * np.maximum(1.0, np.abs(theta))
    f0 = float(np.real(f(x)))
    out = np.empty((n, n))

    def at(moves):
        for i, s in moves:
            x[i] = theta[i] + s * h[i]
        value = float(np.real(f(x)))
        for i, _ in moves:
            x[i] = theta[i]
        return value

    for i in range(n):
        out[i, i] = (at([(i, 1)]) - 2 * f0 + at([(i, -1)])) / h[i] ** 2
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = (at([(i, 1), (j, 1)]) - at([(i, 1), (j, -1)]) - at([(i, -1), (j, 1)])
                                     + at([(i, -1), (j, -1)])) / (4 * h[i] * h[j])
    return out, f0, h


def _from_function(f, theta, base):
    """float64 reference from ``f`` alone: second differences at h and 2h, their disagreement the uncertainty."""
    R, f0, h = _second_differences(f, theta, base)
    R2, _, _ = _second_differences(f, theta, 2 * base)
    roundoff = 8 * UNIT_ROUNDOFF * abs(f0) / np.outer(h, h)
    return R, np.abs(R - R2) + roundoff, f"second differences of f at h and 2h ({f.calls} calls of f)"






def _float64_hessian(f, hess, grad, theta, shape, eps, seed, notes) -> GradientCheckResult:
    n = theta.size
    objective = objective_of(f, shape)
    analytic = claimed_matrix(hess(theta.reshape(shape).copy()), n, shape)
    gvec = None
    if grad is not None:
        gvec = vector_of(grad, shape)
        why = gradient_disagrees(objective, gvec(theta.copy()), theta, seed)
        if why:
            notes.append(f"{why}; the reference is second differences of f instead")
            gvec = None
    if gvec is not None:
        base = DEFAULT_EPS if eps is None else float(eps)
        R, uncertainty, method = _from_gradient(gvec, theta, analytic, base)
    else:
        base = SECOND_EPS if eps is None else float(eps)
        R, uncertainty, method = _from_function(objective, theta, base)
    judged = float64_judged(np.zeros(n * n), analytic.ravel(), R.ravel(), uncertainty.ravel(), hessian_packing(n))
    bad = [tuple(int(k) for k in np.unravel_index(i, (n, n))) for i in np.flatnonzero(judged.bad)]
    kinks = kinks_in(objective, gvec, theta, bad, base) if bad else []
    notes.append(method)
    result = build_result(judged, hessian_packing(n), method=method.split(" (")[0].split(",")[0], eps=base,
                          notes=notes, compared="Hessian")
    return hessian_cause(result, analytic, kinks)


def check_hessian(f: Callable, hess: Callable, x, *, grad: Callable | None = None, precision: str = "float64",
                  dps: int = 50, eps: float | None = None, seed: int = 0) -> GradientCheckResult:
    """Check ``hess`` against the true Hessian of the scalar ``f`` at ``x``.

    Parameters
    ----------
    f : callable → scalar
        ``f(x)``.
    hess : callable
        The Hessian to check: ``hess(x)`` of shape ``(n, n)`` (``n = x.size``,
        entries of ``x`` in C order) or ``x.shape + x.shape``.
    x : array-like
        The point (one array; stack several parameters into one vector).
    grad : callable, optional
        The gradient of ``f``, ``grad(x)`` of x's shape.  When given (and it
        agrees with ``f`` along random directions) the reference is the
        centered differences of ``grad``: ``2n`` calls, error ``O(h²)``;
        without it, second differences of ``f`` (``≈ 4n²`` calls).
    precision : ``"float64"`` or ``"mp"``
        ``"mp"``: ``f``, ``grad`` and ``hess`` run on balls of ``dps`` digits
        and the reference is certified far below ``10^-dps`` (see
        :mod:`derivaudit.gradcheck.hessian_balls`); code that cannot stay in
        balls falls back to float64, saying where.
    eps : float, optional
        Base step ``hᵢ = ε·max(1, |xᵢ|)`` of the float64 differences.
    seed : int
        Seed of the directions along which ``grad`` is compared with ``f``.

    Returns
    -------
    GradientCheckResult
        ``.ok``, ``.verdict``, ``.relative_difference``, ``.wrong`` (the
        ``(i, j)`` entries, worst first), ``.cause``, ``.summary()``.
    """
    validate_settings(precision, dps, eps)
    theta = _plain_point(x)
    shape, flat = theta.shape, theta.ravel().copy()
    notes: list[str] = []
    users = tuple(fn for fn in (f, hess, grad) if fn is not None)
    # every call on its own copies: grad and hess may work in place on theirs; f, differentiated, may not
    f, hess = refusing_changes(f, "f", ("x",)), own_copies(hess)
    grad = None if grad is None else own_copies(grad)
    if precision == "mp":
        from derivaudit.gradcheck.hessian_balls import mp_hessian
        result, why = mp_hessian(f, hess, grad, flat, shape, dps, seed, notes, users)
        if result is not None:
            return result
        notes.append(f"precision='mp' fell back to float64: {why}")
    return _float64_hessian(f, hess, grad, flat, shape, eps, seed, notes)


def _float64_hvp(gvec, hvp, theta, shape, directions, base, packing) -> GradientCheckResult:
    claimed, reference, uncertainty = [], [], []
    scale = max(1.0, float(np.max(np.abs(theta))))
    g0 = gvec(theta.copy())
    for v in directions:
        step = base * scale / max(float(np.max(np.abs(v))), 1e-300)
        quotients = [(gvec(theta + s * v) - gvec(theta - s * v)) / (2 * s) for s in (step, 2 * step)]
        reference.append(quotients[0])
        uncertainty.append(np.abs(quotients[0] - quotients[1]) + 4 * UNIT_ROUNDOFF * (np.abs(g0) + np.max(np.abs(g0)))
                           / step)
        out = np.asarray(to_numpy(hvp(theta.reshape(shape).copy(), v.reshape(shape).copy())))
        if out.size != theta.size:
            raise ShapeError(f"hvp returned an array of shape {out.shape}, but x has {theta.size} entries: "
                             f"H·v must have x's shape {shape}")
        claimed.append(finite_float64(out.ravel(), "hvp must return real numbers",
                                      "hvp returned entries that are not finite"))
    judged = float64_judged(np.zeros(packing.size), np.concatenate(claimed), np.concatenate(reference),
                            np.concatenate(uncertainty), packing)
    notes = [f"directional derivatives of grad along {len(directions)} direction(s) at h and 2h "
             f"({4 * len(directions) + 1} calls of grad; the Hessian is never formed)"]
    return build_result(judged, packing, method="centered differences of grad along v", eps=base, notes=notes,
                        compared="Hessian–vector product")


def hvp_directions(v, theta: np.ndarray, shape: tuple, count: int, seed: int) -> tuple[list, Packing]:
    """The directions of an HVP check and the packing of the products (one part per random direction)."""
    if v is not None:
        array = finite_float64(to_numpy(v), "v must be an array of real numbers", "v has entries that are not finite")
        if array.size != theta.size:
            raise ShapeError(f"v has {array.size} entries, but x has {theta.size}: give v x's shape {shape}")
        if not np.any(array):
            raise DerivauditError("v is zero: H·0 = 0 says nothing about H; give a nonzero direction or omit v")
        return [array.ravel().copy()], Packing("array", ("Hv",), (shape,), ("numpy",), ())
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise DerivauditError(f"directions must be a whole number ≥ 1, not {count!r}")
    rng = np.random.default_rng(seed)
    names = tuple(f"v{k + 1}" for k in range(count))
    return [rng.standard_normal(theta.size) for _ in range(count)], \
        Packing("dict", names, (shape,) * count, ("numpy",) * count, ())


def check_hvp(grad: Callable, hvp: Callable, x, v=None, *, directions: int = 3, precision: str = "float64",
              dps: int = 50, eps: float | None = None, seed: int = 0) -> GradientCheckResult:
    """Check a Hessian–vector product ``hvp(x, v)`` against the derivative of ``grad`` along ``v``.

    The reference is ``(g(x + hv) − g(x − hv)) / (2h)`` (error ``O(h²)``;
    on balls with ``precision="mp"``, certified far below ``10^-dps``): four
    calls of ``grad`` per direction in float64, two on balls, however large
    ``x`` is; the Hessian is never formed.

    Parameters
    ----------
    grad : callable
        The gradient of the loss, ``grad(x)`` of x's shape (check it first
        with :func:`~derivaudit.check_gradient`: the reference is its derivative).
    hvp : callable
        ``hvp(x, v)`` → ``H(x)·v``, x's shape.
    x : array-like
    v : array-like, optional
        The direction; when omitted, ``directions`` standard normal ones
        (``seed``), each a part of the result (``"v1"``, ``"v2"``, …).
    precision, dps, eps
        As for :func:`check_hessian`.

    Returns
    -------
    GradientCheckResult
        Wrong entries of ``H·v`` by index (``("v2", (3,))`` with random directions).
    """
    validate_settings(precision, dps, eps)
    theta = _plain_point(x)
    shape, flat = theta.shape, theta.ravel().copy()
    vectors, packing = hvp_directions(v, flat, shape, directions, seed)
    users = (grad, hvp)
    grad, hvp = own_copies(grad), own_copies(hvp)   # each may work in place on its own copies
    if precision == "mp":
        from derivaudit.gradcheck.hessian_balls import mp_hvp
        result, why = mp_hvp(grad, hvp, flat, shape, vectors, packing, dps, users)
        if result is not None:
            return result
        fallback = f"precision='mp' fell back to float64: {why}"
        result = _float64_hvp(vector_of(grad, shape), hvp, flat, shape, vectors,
                              DEFAULT_EPS if eps is None else float(eps), packing)
        from dataclasses import replace
        return replace(result, notes=(fallback,) + result.notes)
    return _float64_hvp(vector_of(grad, shape), hvp, flat, shape, vectors,
                        DEFAULT_EPS if eps is None else float(eps), packing)
