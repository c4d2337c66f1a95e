"""Reference gradients of a scalar function of a flat θ: float64 differences and 50-digit ball differences.

- **centered differences** ``(f(θ + hᵢeᵢ) − f(θ − hᵢeᵢ)) / (2hᵢ)`` with
  ``hᵢ = ε·max(1, |θᵢ|)`` over the rounded argument spread, ``ε = 6e-6 ≈ u^(1/3)``
  balancing truncation ``∝ h²`` and roundoff ``∝ u·|f|/h``;
- **complex step** ``Im f(θ + ih·eᵢ)/h`` (no cancellation; needs complex-analytic code);
- **ball differences**: the centered difference evaluated on balls at
  ``working_bits(dps)`` bits with the exact step ``hᵢ = 2^-(bits/3)·2^⌈log₂ max(1,|θᵢ|)⌉``:
  roundoff is the ball's own radius and truncation ``hᵢ²·|f'''|/6`` is bounded
  by ``hᵢ·(1 + |Dᵢ|)`` as long as ``|f'''| ≤ 6(1 + |f'|)/hᵢ`` (≈ 10³⁷ at 50 digits).

Every function perturbs one entry of a working copy in place and restores it,
so a call of ``f`` costs no copy of θ; code that changes its input is caught.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from derivaudit.errors import DerivauditError, DomainError, ShapeError
from derivaudit.gradcheck.packing import Packing, to_numpy
from derivaudit.constants import UNIT_ROUNDOFF
from derivaudit.verdicts import relative_difference

__all__ = ["DEFAULT_EPS", "FORWARD_EPS", "COMPLEX_EPS", "SWEEP_EPS", "Objective", "forward", "centered", "complex_step",
           "accepts_complex", "sweep_table", "ball_centered", "ball_step"]

#: base step of the centered difference, ≈ u^(1/3)
DEFAULT_EPS = 6e-6
#: step of the forward difference, ≈ u^(1/2), balancing truncation ∝ h and roundoff ∝ u·|f|/h
FORWARD_EPS = 1.5e-8
#: complex step: any tiny step works (no cancellation); small enough that truncation h²·|f'''| is nil
COMPLEX_EPS = 1e-20
#: steps of the ε sweep
SWEEP_EPS = tuple(10.0 ** -k for k in range(1, 13))


def scalar(value, what: str):
    """The number ``value`` holds (float or complex); one clear error for arrays, non-numbers, inf/NaN."""
    array = np.asarray(to_numpy(value))
    if array.size != 1:
        raise ShapeError(f"f must return a scalar, but {what} returned an array of shape {array.shape}")
    if array.dtype.kind not in "biufc":
        raise DerivauditError(f"f must return a number, but {what} returned {array.dtype}")
    number = array.reshape(()).item()
    if not np.isfinite(number):
        raise DomainError(f"f is not finite ({number}) at {what}")
    return number


class Objective:
    """``value(structure)`` on flat θ vectors, counting calls; ``dtype`` of the last result kept."""

    def __init__(self, value: Callable, packing: Packing):
        self.value, self.packing, self.calls, self.float32 = value, packing, 0, False

    def __call__(self, flat: np.ndarray, what: str = "θ"):
        self.calls += 1
        packing = self.packing
        inputs = flat.reshape(packing.shapes[0]) if packing.plain else packing.unflatten(flat)
        result = self.value(inputs)
        kind = type(result)
        if kind is float or kind is np.float64:          # the common case, without the general checks
            if math.isfinite(result):
                return float(result)
        if isinstance(result, (np.ndarray, np.float32)) and result.dtype == np.float32:
            self.float32 = True
        return scalar(result, f"f({what})")

    def raw(self, flat: np.ndarray):
        """The value as the user's code returned it (for the ball path)."""
        self.calls += 1
        return self.value(self.packing.unflatten(flat, native=False))


def forward(f: Objective, theta: np.ndarray, f0: float, eps: float) -> np.ndarray:
    """Forward differences ``(f(θ + hᵢeᵢ) − f(θ)) / hᵢ`` at every entry (``n`` calls; error ``O(h)``)."""
    x = theta.copy()
    out = np.empty(theta.size)
    for i in range(theta.size):
        t = theta[i]
        x[i] = t + eps * max(1.0, abs(t))
        up = x[i]
        out[i] = (float(np.real(f(x, "θ + h·e"))) - f0) / (up - t)
        x[i] = t
    return out


def centered(f: Objective, theta: np.ndarray, eps: float, indices: Sequence[int] | None = None) -> np.ndarray:
    """Centered differences at the entries ``indices`` (default all) with ``hᵢ = ε·max(1, |θᵢ|)``."""
    x = theta.copy()
    entries = range(theta.size) if indices is None else indices
    out = np.empty(len(entries))
    for k, i in enumerate(entries):
        t = theta[i]
        h = eps * max(1.0, abs(t))
        x[i] = t + h
        plus, up = f(x, "θ + h·e"), x[i]
        x[i] = t - h
        minus, down = f(x, "θ − h·e"), x[i]
        x[i] = t
        out[k] = (float(np.real(plus)) - float(np.real(minus))) / (up - down)
    return out


def complex_step(f: Objective, theta: np.ndarray, indices: Sequence[int] | None = None,
                 eps: float = COMPLEX_EPS) -> np.ndarray:
    """``Im f(θ + ihᵢeᵢ)/hᵢ`` at the entries ``indices`` (default all)."""
    x = theta.astype(np.complex128)
    entries = range(theta.size) if indices is None else indices
    out = np.empty(len(entries))
    for k, i in enumerate(entries):
        h = eps * max(1.0, abs(theta[i]))
        x[i] = theta[i] + 1j * h
        out[k] = np.imag(f(x, "θ + ih·e")) / h
        x[i] = theta[i]
    return out


def accepts_complex(f: Objective, theta: np.ndarray) -> tuple[bool, str]:
    """Whether ``f`` computes on complex input without dropping the imaginary part.

    Tried, not guessed: any exception, a ComplexWarning (an ``astype(float)``
    inside ``f``) or a real result means no.
    """
    x = theta.astype(np.complex128)
    x[0] += 1j * COMPLEX_EPS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            value = to_numpy(f.value(f.packing.unflatten(x)))
    except Exception as exc:  # user code may raise anything on complex input
        return False, f"f does not accept complex input ({type(exc).__name__}: {exc})"
    if not np.iscomplexobj(np.asarray(value)):
        return False, "f returns a real number for complex input (the imaginary part is dropped)"
    return True, ""


def sweep_table(f: Objective, theta: np.ndarray, analytic: np.ndarray, f0: float, steps: Sequence[float],
                reference: np.ndarray | None, indices: Sequence[int] | None = None) -> pd.DataFrame:
    """Centered differences at each step: the V of truncation against roundoff.

    The truncation error of the centered difference is ``K·ε²``; Richardson's
    estimate at ``εₖ`` is ``‖Dₖ − Dₖ₊₁‖ · r²/(r² − 1)`` with ``r = εₖ/εₖ₊₁``,
    trustworthy only where it dwarfs roundoff, so ``K`` is the median of
    ``estimate/εₖ²`` over those steps and ``truncation_estimate = K·ε²``
    everywhere.  ``roundoff_estimate`` is ``u·|f(θ)|·‖1/h‖``.  Both, like the
    differences, are relative to ``‖g‖ + ‖D‖``.  With ``indices`` the table
    covers those entries only (a sample of a large θ).
    """
    entries = np.arange(theta.size) if indices is None else np.asarray(indices)
    g = analytic[entries]
    ref = reference[entries] if reference is not None else None
    steps = sorted((float(s) for s in steps), reverse=True)
    quotients = [centered(f, theta, s, entries) for s in steps]
    scale_of = [np.linalg.norm(g) + np.linalg.norm(q) or 1.0 for q in quotients]
    spread = np.maximum(1.0, np.abs(theta[entries]))
    roundoffs = [UNIT_ROUNDOFF * abs(f0) * float(np.linalg.norm(1.0 / (s * spread))) / scale_of[k]
                 for k, s in enumerate(steps)]
    local = []
    for k in range(len(steps) - 1):
        r2 = (steps[k] / steps[k + 1]) ** 2
        estimate = float(np.linalg.norm(quotients[k] - quotients[k + 1])) * r2 / (r2 - 1) / scale_of[k]
        if estimate > 10 * roundoffs[k]:
            local.append(estimate / steps[k] ** 2)
    K = float(np.median(local)) if local else math.nan
    rows = []
    for k, (s, q) in enumerate(zip(steps, quotients)):
        roundoff, truncation = roundoffs[k], K * s ** 2
        rows.append({"eps": s, "relative_difference": relative_difference(g, q),
                     "error_vs_complex_step": relative_difference(q, ref) if ref is not None else math.nan,
                     "truncation_estimate": truncation, "roundoff_estimate": roundoff,
                     "dominant": "" if math.isnan(truncation) else
                     ("truncation" if truncation > roundoff else "roundoff")})
    return pd.DataFrame(rows, columns=["eps", "relative_difference", "error_vs_complex_step",
                                       "truncation_estimate", "roundoff_estimate", "dominant"])


def ball_step(value: float, dps: int) -> float:
    """The exact step ``2^-(bits/3)·2^⌈log₂ max(1,|θᵢ|)⌉`` of a ball difference at ``dps`` digits."""
    from derivaudit.gradcheck.lifted import working_bits
    return math.ldexp(1.0, math.frexp(max(1.0, abs(float(value))))[1] - working_bits(dps) // 3)


def ball_centered(value: Callable[[np.ndarray], object], theta: np.ndarray, dps: int,
                  indices: Sequence[int] | None = None) -> tuple[list, list]:
    """Centered differences on balls: ``(Dᵢ, uncertainty of Dᵢ)`` for each entry ``i`` of ``indices``.

    ``value`` takes a flat object array of balls and returns a ball, or an
    object array of balls (then each ``Dᵢ`` is a column); call it inside
    :func:`~derivaudit.gradcheck.precision.lifted`.  The uncertainty is the
    ball's radius plus the truncation allowance ``hᵢ·(1 + |Dᵢ|)``.
    """
    from flint import arb

    from derivaudit.gradcheck.lifted import lift_point, mid_float
    x = lift_point(theta).view(np.ndarray).copy()
    entries = range(theta.size) if indices is None else indices
    out, uncertainty = [], []
    for i in entries:
        h = ball_step(theta[i], dps)
        t, step = arb(float(theta[i])), arb(h)
        x[i] = t + step
        plus = value(x)
        x[i] = t - step
        minus = value(x)
        x[i] = t
        d = (plus - minus) / (2 * step)
        out.append(d)
        bound = np.frompyfunc(lambda b: float(b.rad()) + h * (1 + abs(mid_float(b))), 1, 1)(d)
        uncertainty.append(bound.astype(float) if isinstance(bound, np.ndarray) else float(bound))
    return out, uncertainty
