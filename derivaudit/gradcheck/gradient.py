"""Gradient checks of Python callables: NumPy code, not formulas.

``check_gradient(f, grad_f, θ)`` compares a hand-written gradient ``g =
grad_f(θ)`` with a numerical one ``n`` and says how far apart they are, in
the usual relative-difference metric

    r = ‖g − n‖ / (‖g‖ + ‖n‖)          (0 when both are 0),

judged by the thresholds of :data:`THRESHOLDS`: ``r < 1e-7`` fine,
``< 1e-5`` ok (float64 finite-difference noise on an ill-scaled problem),
``< 1e-3`` look again, else a bug.

The numerical gradient is the **complex step** ``Im f(θ + ih·eᵢ)/h`` when
``f`` accepts complex input (detected by trying, and cross-checked against
centered differences: code with ``abs``, ``maximum`` or comparisons runs on
complex numbers but is not complex-analytic), else the **centered
difference** ``(f(θ + hᵢeᵢ) − f(θ − hᵢeᵢ)) / (2hᵢ)`` with
``hᵢ = ε·max(1, |θᵢ|)`` (the denominator is the difference of the two
rounded arguments, which removes the argument-rounding error) and
``ε = 6e-6 ≈ u^(1/3)``, the step that balances the centered difference's
truncation ``∝ h²`` and roundoff ``∝ u·|f|/h``, as in
:mod:`scipy.optimize._numdiff`.

The result also names the entries that are wrong (index tuples in θ's shape),
suggests a cause (sign flip, constant factor, transposed, only some entries,
...) and carries an ε sweep showing truncation and roundoff.  Works with
anything :func:`numpy.asarray` accepts; no torch or jax needed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from derivaudit.studies.error_model import UNIT_ROUNDOFF
from derivaudit.verdicts import GRADIENT_BANDS, gradient_band, relative_difference
from derivaudit.display import html_of
from derivaudit.errors import DerivauditError, DomainError, ShapeError

__all__ = ["THRESHOLDS", "DEFAULT_EPS", "GradientCheckResult", "check_gradient", "suggest_cause", "verdict_of"]

#: relative-difference thresholds: below the first fine, the second ok, the third look again
THRESHOLDS = tuple(bound for bound, _ in GRADIENT_BANDS)
#: base step of the centered difference, ≈ u^(1/3)
DEFAULT_EPS = 6e-6
#: complex step: any tiny step works (no cancellation); small enough that truncation h²·|f'''| is nil
COMPLEX_EPS = 1e-20
#: steps of the ε sweep
SWEEP_EPS = tuple(10.0 ** -k for k in range(1, 13))
#: an entry whose difference is below this fraction of ‖g‖ + ‖n‖ cannot move the metric; never "wrong"
_NEGLIGIBLE = 1e-10


def verdict_of(relative_difference: float) -> str:
    """``fine``, ``ok``, ``look again`` or ``bug`` for a relative difference (see :data:`THRESHOLDS`)."""
    return gradient_band(relative_difference)


@dataclass(frozen=True)
class GradientCheckResult:
    """Outcome of :func:`check_gradient`.

    ``analytic`` is ``grad_f(θ)``, ``numeric`` the reference gradient (both in
    θ's shape); ``component_errors`` is ``|gᵢ − nᵢ| / (|gᵢ| + |nᵢ|)``;
    ``uncertainty`` the estimated error of each ``nᵢ``; ``wrong`` lists the
    indices of the entries that disagree beyond it, worst first.
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
    wrong: tuple[tuple[int, ...], ...]
    cause: str
    notes: tuple[str, ...]
    sweep: pd.DataFrame | None = field(repr=False, default=None)

    def _repr_html_(self) -> str:
        """The HTML report, shown inline by Jupyter."""
        return html_of(self)

    @property
    def passed(self) -> bool:
        """``relative_difference`` below the "look again" threshold and no entry wrong."""
        return self.relative_difference < THRESHOLDS[1] and not self.wrong

    def worst(self, count: int = 5) -> pd.DataFrame:
        """The ``count`` worst entries: ``index, analytic, numeric, difference, rel_error``."""
        order = np.argsort(-np.nan_to_num(self.component_errors.ravel(), nan=np.inf), kind="stable")
        rows = []
        for flat in order[:count]:
            index = np.unravel_index(flat, self.theta.shape)
            g, n = self.analytic[index], self.numeric[index]
            rows.append({"index": tuple(int(i) for i in index), "analytic": float(g), "numeric": float(n),
                         "difference": float(g - n), "rel_error": float(self.component_errors[index])})
        return pd.DataFrame(rows, columns=["index", "analytic", "numeric", "difference", "rel_error"])

    def summary(self, count: int = 5) -> str:
        """A readable report: metric, verdict, worst entries, suggested cause, notes."""
        lines = [f"relative difference {self.relative_difference:.3e}: {self.verdict} "
                 f"(fine < {THRESHOLDS[0]:g}, look again ≥ {THRESHOLDS[1]:g}, bug ≥ {THRESHOLDS[2]:g})",
                 f"numeric gradient: {self.method}, ε = {self.eps:g}"]
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


def _as_theta(theta) -> np.ndarray:
    try:
        array = np.array(theta, dtype=np.float64)  # a copy: θ is perturbed in place
    except (TypeError, ValueError) as exc:
        raise DerivauditError(f"theta must be an array of real numbers ({exc})") from None
    if array.size == 0:
        raise ShapeError("theta is empty; give at least one parameter")
    if not np.all(np.isfinite(array)):
        raise DomainError("theta contains infinite or NaN entries")
    return array


def _scalar(value, what: str) -> complex | float:
    array = np.asarray(value)
    if array.size != 1:
        raise ShapeError(f"f must return a scalar, but {what} returned an array of shape {array.shape}")
    if array.dtype.kind not in "biufc":
        raise DerivauditError(f"f must return a number, but {what} returned {array.dtype}")
    scalar = array.reshape(()).item()
    if not np.isfinite(scalar):
        raise DomainError(f"f is not finite ({scalar}) at {what}")
    return scalar


class _Counted:
    """``f`` on θ-shaped arrays, with the number of calls kept for the notes."""

    def __init__(self, f: Callable, shape: tuple[int, ...]):
        self.f, self.shape, self.calls = f, shape, 0

    def __call__(self, x: np.ndarray, what: str = "θ"):
        self.calls += 1
        return _scalar(self.f(x.reshape(self.shape)), f"f({what})")


def _centered(f: _Counted, theta: np.ndarray, eps: float) -> np.ndarray:
    """Centered differences with ``hᵢ = ε·max(1, |θᵢ|)`` over the rounded argument spread."""
    flat = theta.ravel()
    out = np.empty(flat.size)
    for i in range(flat.size):
        h = eps * max(1.0, abs(flat[i]))
        x = flat.copy()
        x[i] = flat[i] + h
        plus, up = f(x, "θ + h·e"), x[i]
        x[i] = flat[i] - h
        minus, down = f(x, "θ − h·e"), x[i]
        out[i] = (float(np.real(plus)) - float(np.real(minus))) / (up - down)
    return out.reshape(theta.shape)


def _complex_step(f: _Counted, theta: np.ndarray, eps: float = COMPLEX_EPS) -> np.ndarray:
    flat = theta.ravel()
    out = np.empty(flat.size)
    for i in range(flat.size):
        h = eps * max(1.0, abs(flat[i]))
        x = flat.astype(np.complex128)
        x[i] += 1j * h
        out[i] = np.imag(f(x, "θ + ih·e")) / h
    return out.reshape(theta.shape)


def _accepts_complex(f: _Counted, theta: np.ndarray) -> tuple[bool, str]:
    """Whether ``f`` computes on complex input without dropping the imaginary part.

    Tried, not guessed: any exception, a ComplexWarning (an ``astype(float)``
    inside ``f``) or a real result means no.
    """
    x = theta.ravel().astype(np.complex128)
    x[0] += 1j * COMPLEX_EPS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            value = f.f(x.reshape(f.shape))
    except Exception as exc:  # user code may raise anything on complex input
        return False, f"f does not accept complex input ({type(exc).__name__}: {exc})"
    if not np.iscomplexobj(np.asarray(value)):
        return False, "f returns a real number for complex input (the imaginary part is dropped)"
    return True, ""


def _sweep(f: _Counted, theta: np.ndarray, analytic: np.ndarray, f0: float, steps: Sequence[float],
           reference: np.ndarray | None) -> pd.DataFrame:
    """Centered differences at each step: the V of truncation against roundoff.

    The truncation error of the centered difference is ``K·ε²``; Richardson's
    estimate at ``εₖ`` is ``‖Dₖ − Dₖ₊₁‖ · r²/(r² − 1)`` with ``r = εₖ/εₖ₊₁``,
    trustworthy only where it dwarfs roundoff, so ``K`` is the median of
    ``estimate/εₖ²`` over those steps and ``truncation_estimate = K·ε²``
    everywhere.  ``roundoff_estimate`` is ``u·|f(θ)|·‖1/h‖``.  Both, like the
    differences, are relative to ``‖g‖ + ‖D‖``.
    """
    steps = sorted((float(s) for s in steps), reverse=True)
    quotients = [_centered(f, theta, s) for s in steps]
    scale_of = [np.linalg.norm(analytic) + np.linalg.norm(q) or 1.0 for q in quotients]
    roundoffs = [UNIT_ROUNDOFF * abs(f0) * float(np.linalg.norm(1.0 / (s * np.maximum(1.0, np.abs(theta)))))
                 / scale_of[k] for k, s in enumerate(steps)]
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
        rows.append({"eps": s, "relative_difference": relative_difference(analytic, q),
                     "error_vs_complex_step": relative_difference(q, reference) if reference is not None else math.nan,
                     "truncation_estimate": truncation, "roundoff_estimate": roundoff,
                     "dominant": "" if math.isnan(truncation) else
                     ("truncation" if truncation > roundoff else "roundoff")})
    return pd.DataFrame(rows, columns=["eps", "relative_difference", "error_vs_complex_step",
                                       "truncation_estimate", "roundoff_estimate", "dominant"])


def _describe_indices(indices: Sequence[tuple[int, ...]], limit: int = 4) -> str:
    shown = ", ".join(str(i) for i in indices[:limit])
    return shown + (f" and {len(indices) - limit} more" if len(indices) > limit else "")


def suggest_cause(analytic: np.ndarray, numeric: np.ndarray, wrong: Sequence[tuple[int, ...]],
                  uncertainty: np.ndarray | float = 0.0) -> str:
    """A likely reason why ``analytic`` differs from ``numeric`` at the ``wrong`` entries.

    Tried in order: transposed (or reshaped in the wrong memory order), sign
    flip, one constant factor, zero where the numeric gradient is not (a
    missing term), non-zero where it is zero (a spurious term), wrong entries
    confined to some rows or columns, then a generic wrong term.
    """
    if not wrong:
        return ""
    g, n = np.asarray(analytic, float), np.asarray(numeric, float)
    tol = np.broadcast_to(np.asarray(uncertainty, float), n.shape)
    scale = np.linalg.norm(g) + np.linalg.norm(n)

    def close(a, b, t=tol) -> bool:
        return bool(np.all(np.abs(a - b) <= 10 * t + 1e-6 * (np.abs(a) + np.abs(b)) + _NEGLIGIBLE * scale))

    if g.ndim == 2 and g.shape[0] == g.shape[1] and close(g.T, n):
        return "transposed: grad_f returns the transpose of the gradient (e.g. x.T @ δ where δ.T @ x belongs)"
    if g.ndim >= 2 and close(g.reshape(g.shape[::-1]).T, n):
        return ("the right values in the wrong order: the gradient was computed for the transposed "
                "parameter and reshaped, not transposed back")
    mask = np.zeros(g.shape, bool)
    for index in wrong:
        mask[index] = True
    gw, nw = g[mask], n[mask]
    where = "all entries" if mask.all() else f"entries {_describe_indices(list(wrong))}"
    if close(gw, -nw, tol[mask]):
        return (f"sign flip at {where}: the analytic values are the negatives of the numeric ones "
                "(a missing minus, or the gradient of −f)")
    usable = np.abs(nw) > 10 * tol[mask]
    if usable.any():
        ratios = gw[usable] / nw[usable]
        c = float(np.median(ratios))
        if c != 0 and np.all(np.abs(ratios - c) <= 1e-4 * abs(c)) and close(gw, c * nw, tol[mask]):
            return (f"off by a constant factor {c:.6g} at {where} (a missing 1/N of a mean, "
                    "a factor 2 of a square, or a scaled learning signal)")
    if np.all(gw == 0):
        return f"the analytic gradient is zero at {where}, where the numeric one is not: a missing term"
    if np.all(np.abs(nw) <= 10 * tol[mask] + _NEGLIGIBLE * scale):
        return f"f does not change with {where}, but the analytic gradient is non-zero there: a spurious term"
    if not mask.all():
        detail = f"only {mask.sum()} of {mask.size} entries are wrong"
        if g.ndim >= 2:
            rows = sorted({i[0] for i in wrong})
            cols = sorted({i[-1] for i in wrong})
            if len(rows) < g.shape[0]:
                detail += f", all in row(s) {', '.join(map(str, rows))}"
            elif len(cols) < g.shape[-1]:
                detail += f", all in column(s) {', '.join(map(str, cols))}"
        return f"{detail}: the term for those parameters (one layer, a bias, a boundary case) is wrong"
    return "the differences vary from entry to entry: a wrong or missing term in the gradient formula"


def check_gradient(f: Callable, grad_f: Callable, theta, *, eps: float | None = None,
                   complex_step: bool | str = "auto", sweep: bool | Sequence[float] = True
                   ) -> GradientCheckResult:
    """Check ``grad_f`` against a numerical gradient of ``f`` at ``theta``, in float64.

    Parameters
    ----------
    f : callable, array → scalar
        The function; called with arrays of ``theta``'s shape.
    grad_f : callable, array → array
        The gradient to check; must return ``theta``'s shape (or the same
        number of entries).
    theta : array-like
        The point; anything :func:`numpy.asarray` turns into real numbers.
    eps : float, optional
        Base step of the centered difference (``hᵢ = ε·max(1, |θᵢ|)``);
        default :data:`DEFAULT_EPS`.
    complex_step : ``"auto"``, True or False
        ``"auto"`` uses the complex step when ``f`` accepts complex input and
        agrees with centered differences; True requires it; False never.
    sweep : bool or list of steps
        Also tabulate centered differences over ε (default ``1e-1 … 1e-12``).

    Returns
    -------
    GradientCheckResult
    """
    if complex_step not in ("auto", True, False):
        raise DerivauditError(f"complex_step must be 'auto', True or False, not {complex_step!r}")
    base = DEFAULT_EPS if eps is None else float(eps)
    if not (0 < base < 1) or not math.isfinite(base):
        raise DerivauditError(f"eps must be a step between 0 and 1, not {eps!r}")
    theta = _as_theta(theta)
    counted = _Counted(f, theta.shape)
    f0 = float(np.real(counted(theta.ravel())))
    notes = []
    if float(np.real(counted(theta.ravel()))) != f0:
        notes.append("f returned different values for the same θ: it is not deterministic "
                     "(random numbers, dropout or sampling inside f); fix the seed before checking")
    try:
        analytic = np.array(grad_f(theta.copy()), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DerivauditError(f"grad_f must return an array of real numbers ({exc})") from None
    if analytic.shape != theta.shape:
        if analytic.size != theta.size:
            raise ShapeError(f"grad_f returned shape {analytic.shape}, but theta has shape {theta.shape}")
        transposed = analytic.ndim == 2 and analytic.shape[::-1] == theta.shape
        raise ShapeError(f"grad_f returned shape {analytic.shape}, but theta has shape {theta.shape}"
                         + ("; it looks transposed" if transposed else "; reshape it to theta's shape"))
    if not np.all(np.isfinite(analytic)):
        raise DomainError("grad_f returned infinite or NaN entries")

    # Centered at h and 2h: |D(h) − D(2h)| bounds the error of D(h) (truncation and the roundoff noise).
    centered = _centered(counted, theta, base)
    uncertainty = np.abs(centered - _centered(counted, theta, 2 * base)) \
        + 2 * UNIT_ROUNDOFF * abs(f0) / (base * np.maximum(1.0, np.abs(theta)))
    numeric, method, used_eps = centered, "centered differences", base

    reference = None
    if complex_step is not False:
        ok, why = _accepts_complex(counted, theta)
        if ok:
            cs = _complex_step(counted, theta)
            agree = np.abs(cs - centered) <= 10 * uncertainty + 1e-6 * (np.abs(cs) + np.abs(centered))
            if agree.all() or complex_step is True:
                reference, numeric, method, used_eps = cs, cs, "complex step", COMPLEX_EPS
                uncertainty = 8 * UNIT_ROUNDOFF * np.abs(cs)
                if not agree.all():
                    notes.append("the complex step disagrees with centered differences: f is probably "
                                 "not complex-analytic (abs, maximum, comparisons on the real part)")
            else:
                notes.append("f runs on complex input, but the complex step disagrees with centered "
                              "differences (abs, maximum or comparisons inside f?); using centered differences")
        elif complex_step is True:
            raise DerivauditError(f"complex_step=True, but {why}")
        else:
            notes.append(f"{why}; using centered differences")

    difference = np.abs(analytic - numeric)
    sizes = np.abs(analytic) + np.abs(numeric)
    with np.errstate(invalid="ignore", divide="ignore"):
        component = np.where(sizes > 0, difference / np.where(sizes > 0, sizes, 1), 0.0)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    bad = (component >= THRESHOLDS[1]) & (difference > 10 * uncertainty) & (difference > _NEGLIGIBLE * scale)
    flat_order = np.argsort(-np.where(bad, component, -1).ravel(), kind="stable")[:int(bad.sum())]
    wrong = tuple(tuple(int(i) for i in np.unravel_index(k, theta.shape)) for k in flat_order)
    relative = relative_difference(analytic, numeric)
    verdict = verdict_of(relative)
    cause = suggest_cause(analytic, numeric, wrong, uncertainty)
    if not cause and verdict in ("look again", "bug"):
        cause = ("small disagreement spread over the entries: f may be non-smooth near θ "
                 "(relu/abs/max kinks), computed partly in float32, or noisy")
    table = None
    if sweep is not False:
        steps = SWEEP_EPS if sweep is True else sweep
        table = _sweep(counted, theta, analytic, f0, steps, reference)
    notes.append(f"{counted.calls} evaluations of f")
    return GradientCheckResult(theta, analytic, numeric, method, used_eps, relative, verdict, component,
                               uncertainty, wrong, cause, tuple(notes), table)
