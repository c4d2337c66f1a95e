"""Gradient checks of Python callables: NumPy code, not formulas.

``check_gradient(f, grad_f, θ)`` compares a hand-written gradient ``g =
grad_f(θ)`` with a reference ``n`` and says how far apart they are, in the
usual relative-difference metric

    r = ‖g − n‖ / (‖g‖ + ‖n‖)          (0 when both are 0),

judged by the bands of :data:`derivaudit.verdicts.GRADIENT_BANDS`:
``r < 1e-7`` fine, ``< 1e-5`` ok (float64 finite-difference noise on an
ill-scaled problem), ``< 1e-3`` look again, else a bug.

θ is an array, a tuple of arrays (``f(*θ)``) or a dict of named arrays
(``f(params)``, the gradient keyed by the same names or ``"d" + name``);
NumPy, torch or jax.  In float64 the reference is the complex step or
centered differences (:mod:`derivaudit.gradcheck.engine`); with
``precision="mp"`` the code runs on 50-digit balls and a correct gradient
agrees to ``1e-25`` or better (:mod:`derivaudit.gradcheck.balls`).

>>> import numpy as np, derivaudit as da
>>> W = np.array([[0.5, -1.0], [2.0, 0.25]])
>>> r = da.check_gradient(lambda W: np.sum(np.tanh(W) ** 2),
...                       lambda W: 2 * np.tanh(W) * (1 - np.tanh(W) ** 2), W, precision="mp")
>>> r.verdict, r.relative_difference < 1e-25, r.wrong
('fine', True, ())
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from derivaudit.gradcheck.diagnosis import suggest_cause
from derivaudit.gradcheck.engine import Problem, run_check
from derivaudit.gradcheck.numeric import DEFAULT_EPS
from derivaudit.gradcheck.packing import Packing
from derivaudit.gradcheck.results import THRESHOLDS, GradientCheckResult
from derivaudit.verdicts import gradient_band

__all__ = ["THRESHOLDS", "DEFAULT_EPS", "GradientCheckResult", "check_gradient", "suggest_cause", "verdict_of"]


def verdict_of(relative_difference: float) -> str:
    """``fine``, ``ok``, ``look again`` or ``bug`` for a relative difference (see :data:`THRESHOLDS`)."""
    return gradient_band(relative_difference)


def check_gradient(f: Callable, grad_f: Callable, theta, *, precision: str = "float64", dps: int = 50,
                   eps: float | None = None, complex_step: bool | str = "auto",
                   sweep: bool | str | Sequence[float] = "auto", mode: str = "entries", directions: int = 8,
                   seed: int = 0) -> GradientCheckResult:
    """Check ``grad_f`` against the true gradient of ``f`` at ``theta``.

    Parameters
    ----------
    f : callable → scalar
        Called with arrays of ``theta``'s shape (``f(*theta)`` for a tuple,
        ``f(theta)`` with a dict for a dict).
    grad_f : callable
        The gradient to check, same call; returns ``theta``'s shape (a tuple
        for a tuple; a dict keyed by the names or ``"d" + name`` for a dict).
    theta : array-like, tuple of arrays or dict of arrays
        The point (NumPy, torch or jax arrays, lists).
    precision : ``"float64"`` or ``"mp"``
        ``"mp"`` runs ``f`` and ``grad_f`` on balls of ``dps`` digits; the
        reference is the centered difference at step ``≈ 10^-(2·dps/3)``,
        error ``O(h²)`` far below ``10^-dps``.  Code that forces float64
        falls back to a float64 check, saying where.
    eps : float, optional
        Base step of the float64 centered difference ``hᵢ = ε·max(1, |θᵢ|)``
        (error ``O(h²)``), default :data:`DEFAULT_EPS` ``≈ u^(1/3)``.
    complex_step : ``"auto"``, True or False
        float64: use ``Im f(θ + ih)/h`` (error ``O(h²)`` with no cancellation)
        when ``f`` accepts complex input and agrees with centered differences.
    sweep : ``"auto"``, bool or list of steps
        Also tabulate centered differences over ε (``1e-1 … 1e-12``);
        ``"auto"``: all entries up to 100, a sample of 10 above.
    mode : ``"entries"`` or ``"directions"``
        ``"directions"``: ``directions`` random directional derivatives first,
        then bisection over blocks of entries to name the wrong ones
        (``O(k log n)`` calls, for large θ); with ``precision="mp"`` on balls,
        an entry wrong by the certified rule (code that cannot run on balls
        falls back to float64).
    seed : int
        Seed of the samples and directions.

    Returns
    -------
    GradientCheckResult
    """
    packing, flat = Packing.of(theta, named_by=f)
    call = (lambda inputs: f(*inputs)) if packing.kind == "tuple" else f
    grad = (lambda inputs: grad_f(*inputs)) if packing.kind == "tuple" else grad_f
    problem = Problem(packing, flat, value=lambda inputs, const: call(inputs),
                      gradient=lambda inputs, const: grad(inputs), functions=(f, grad_f))
    if mode == "directions":
        from derivaudit.gradcheck.locate import check_by_directions
        if precision == "mp":
            from derivaudit.gradcheck.mp_locate import mp_check_by_directions
            if not isinstance(dps, int) or isinstance(dps, bool) or not 10 <= dps <= 1000:
                from derivaudit.errors import DerivauditError
                raise DerivauditError(f"dps must be an integer from 10 to 1000, not {dps!r}")
            result, _ = mp_check_by_directions(problem, dps=dps, directions=directions, seed=seed)
            if result is not None:
                return result
        return check_by_directions(problem, directions=directions, eps=eps, seed=seed)
    if mode != "entries":
        from derivaudit.errors import DerivauditError
        raise DerivauditError(f"mode must be 'entries' or 'directions', not {mode!r}")
    return run_check(problem, precision=precision, dps=dps, eps=eps, complex_step=complex_step, sweep=sweep,
                     seed=seed)
