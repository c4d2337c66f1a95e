"""One engine behind every gradient check: a scalar function of the inputs, its claimed gradient, a verdict.

A :class:`Problem` is what ``check_gradient``, ``check_layer`` and the
vector–Jacobian form of ``check_jacobian`` reduce to: ``value(inputs, const)``
a scalar, ``gradient(inputs, const)`` its claimed gradient (``const`` turns
the check's own constants, such as a layer's random ``dout``, into the
arithmetic of the run: unchanged in float64, balls in lifted precision).

- ``precision="float64"``: for up to :data:`THOROUGH_N` entries, the complex
  step when the code is complex-analytic, cross-checked by centered
  differences at ``h`` and ``2h`` (their disagreement is each entry's
  uncertainty), and an ε sweep; above it, forward differences once (``n``
  calls, as ``scipy.optimize.check_grad``), their error measured on a sample
  against centered differences, and centered differences at ``h`` and ``2h``
  at every entry that looks wrong before it is named.
- ``precision="mp"``: the code runs lifted on balls (claimed gradient
  included), the reference is the ball centered difference, a wrong entry is
  one whose difference ball (widened by the truncation allowance) excludes
  zero at the ``10^-(dps/2)`` relative level.  Code that cannot stay in balls
  falls back to float64 and the result says where and why.
"""

from __future__ import annotations

from collections.abc import Callable
import operator
from dataclasses import dataclass, replace

import numpy as np

from derivaudit.errors import DerivauditError
from derivaudit.gradcheck import diagnosis
from derivaudit.gradcheck.numeric import (COMPLEX_EPS, DEFAULT_EPS, FORWARD_EPS, SWEEP_EPS, Objective,
                                          accepts_complex, centered, complex_step, forward, sweep_table)
from derivaudit.gradcheck.packing import Packing, framework_of, to_numpy
from derivaudit.gradcheck.results import THRESHOLDS, GradientCheckResult, build_result, float64_judged
from derivaudit.constants import UNIT_ROUNDOFF

__all__ = ["Problem", "isolated", "copied", "own_copies", "refusing_changes", "in_place_error",
           "changed_parts", "run_check", "validate_settings", "THOROUGH_N", "FULL_SWEEP_N", "PRECISIONS"]

#: up to this many entries the float64 check uses the complex step and centered differences at h and 2h everywhere
THOROUGH_N = 1000
#: up to this many entries the ε sweep covers every entry; above, a sample of SWEEP_SAMPLE entries
FULL_SWEEP_N = 100
SWEEP_SAMPLE = 10
#: entries measured at h and 2h to estimate the uncertainty of a large check
UNCERTAINTY_SAMPLE = 32
#: at most this many suspicious entries are re-measured at 2h one by one
CONFIRM_LIMIT = 400
PRECISIONS = ("float64", "mp")


def _same(value):
    return value


@dataclass
class Problem:
    """A scalar function of the inputs (``packing`` maps them to the flat ``theta``) and its claimed gradient."""

    packing: Packing
    theta: np.ndarray
    value: Callable
    gradient: Callable
    functions: tuple = ()
    who: str = "grad_f"
    #: how messages name the function ``value`` calls (``f``, ``forward``)
    name: str = "f"


def copied(value):
    """A fresh copy of an array (of each array of a tuple, list or dict) for one call of user code."""
    if isinstance(value, np.ndarray):
        return value.copy()                 # a BallArray stays one (its balls are immutable)
    if isinstance(value, (tuple, list)):
        return type(value)(copied(v) for v in value)
    if isinstance(value, dict):
        return {k: copied(v) for k, v in value.items()}
    if framework_of(value) == "torch":
        return value.clone()
    return value                            # jax arrays and numbers cannot be changed in place


def _same_entries(given, original) -> bool:
    if isinstance(original, np.ndarray) and original.dtype == object:
        # balls: an entry written in place is a new object (a ball is not even == itself)
        return all(map(operator.is_, given.view(np.ndarray).flat, original.view(np.ndarray).flat))
    return bool(np.array_equal(to_numpy(given), to_numpy(original)))


def _parts(packing: Packing, inputs) -> list:
    if packing.kind == "array":
        return [inputs]
    return list(inputs.values()) if packing.kind == "dict" else list(inputs)


def changed_parts(packing: Packing, given, original) -> list[str]:
    """The names of the parts of ``given`` (a copy of the inputs ``original``, after a call of
    user code) whose entries differ from ``original``'s."""
    return [name for name, mine, theirs in zip(packing.names, _parts(packing, given), _parts(packing, original))
            if not _same_entries(mine, theirs)]


def in_place_error(who: str, changed) -> DerivauditError:
    """The one message for a function being differentiated that changed its input (every precision)."""
    return DerivauditError(f"{who} changed its input {', '.join(changed)} in place; copy the array inside "
                           f"{who} before modifying it")


def own_copies(fn: Callable) -> Callable:
    """``fn`` called on its own copies of the arrays it is given: its in-place work on them
    (``dout *= 3`` in a backward, ``v *= 2`` in a Hessian–vector product) is legal and cannot
    change the checker's arrays."""
    def call(*args):
        return fn(*[copied(a) for a in args])
    return call


def refusing_changes(fn: Callable, who: str, names: tuple) -> Callable:
    """:func:`own_copies`, and :func:`in_place_error` when ``fn`` changed one of its arguments
    (named ``names``): a function being differentiated that changes its input changes its
    caller's array, a bug in the user's code, said the same way in every precision."""
    def call(*args):
        mine = [copied(a) for a in args]
        result = fn(*mine)
        changed = [name for name, given, original in zip(names, mine, args) if not _same_entries(given, original)]
        if changed:
            raise in_place_error(who, changed)
        return result
    return call


def isolated(problem: Problem) -> Problem:
    """``problem`` with every call of user code on its own copies of the arrays.

    The checker's inputs and constants (a layer's ``dout``) cannot be changed
    under it by code that works in place (``dout *= 3`` in a backward is
    legal); a function ``value`` calls that changes its own input is a bug
    in the user's code and is refused, with the same message in every
    precision (:func:`in_place_error`).
    """
    def value(inputs, const):
        mine = copied(inputs)
        result = problem.value(mine, lambda v: copied(const(v)))
        changed = changed_parts(problem.packing, mine, inputs)
        if changed:
            raise in_place_error(problem.name, changed)
        return result

    def gradient(inputs, const):
        return problem.gradient(copied(inputs), lambda v: copied(const(v)))

    return replace(problem, value=value, gradient=gradient)


def float64_setup(problem: Problem):
    """The float64 objective, f(θ), whether a second call agrees (determinism) and the claimed gradient."""
    f = Objective(lambda inputs: problem.value(inputs, _same), problem.packing)
    theta = problem.theta
    f0 = float(np.real(f(theta)))
    nondeterministic = float(np.real(f(theta))) != f0
    analytic = problem.packing.flatten_gradient(
        problem.gradient(problem.packing.unflatten(theta.copy()), _same), problem.who)
    return f, f0, nondeterministic, analytic


def _thorough(f, theta, base, f0, complex_mode, notes):
    """Complex step (when trusted) or centered differences, with the h/2h uncertainty of every entry."""
    numeric = centered(f, theta, base)
    uncertainty = np.abs(numeric - centered(f, theta, 2 * base)) \
        + 2 * UNIT_ROUNDOFF * abs(f0) / (base * np.maximum(1.0, np.abs(theta)))
    method, used_eps, reference = "centered differences", base, None
    if complex_mode is False:
        return numeric, uncertainty, method, used_eps, reference
    ok, why = accepts_complex(f, theta)
    if not ok:
        if complex_mode is True:
            raise DerivauditError(f"complex_step=True, but {why}")
        notes.append(f"{why}; using centered differences")
        return numeric, uncertainty, method, used_eps, reference
    cs = complex_step(f, theta)
    agree = np.abs(cs - numeric) <= 10 * uncertainty + 1e-6 * (np.abs(cs) + np.abs(numeric))
    if agree.all() or complex_mode is True:
        if not agree.all():
            notes.append("the complex step disagrees with centered differences: f is probably "
                         "not complex-analytic (abs, maximum, comparisons on the real part)")
        return cs, 8 * UNIT_ROUNDOFF * np.abs(cs), "complex step", COMPLEX_EPS, cs
    notes.append("f runs on complex input, but the complex step disagrees with centered "
                 "differences (abs, maximum or comparisons inside f?); using centered differences")
    return numeric, uncertainty, method, used_eps, reference


def _fast(f, theta, base, f0, analytic, rng, notes):
    """Forward differences once (``n`` calls); their error estimated on a sample against centered
    differences; every entry that looks wrong re-measured by centered differences at h and 2h."""
    n = theta.size
    numeric = forward(f, theta, f0, FORWARD_EPS)
    roundoff = 2 * UNIT_ROUNDOFF * abs(f0) / (FORWARD_EPS * np.maximum(1.0, np.abs(theta)))
    sample = rng.choice(n, size=min(UNCERTAINTY_SAMPLE, n), replace=False)
    spread = np.abs(numeric[sample] - centered(f, theta, base, sample))
    uncertainty = roundoff + 10 * float(spread.max())
    difference = np.abs(analytic - numeric)
    sizes = np.abs(analytic) + np.abs(numeric)
    suspicious = np.flatnonzero((difference >= THRESHOLDS[1] * sizes) & (difference > 10 * uncertainty))
    unmeasured = np.zeros(0, dtype=int)
    if len(suspicious) > CONFIRM_LIMIT:
        chosen = rng.choice(len(suspicious), size=CONFIRM_LIMIT, replace=False)
        unmeasured = np.delete(suspicious, chosen)
        suspicious = suspicious[chosen]
    if len(suspicious):
        at_h = centered(f, theta, base, suspicious)
        numeric[suspicious] = at_h
        uncertainty[suspicious] = 2 * UNIT_ROUNDOFF * abs(f0) / (base * np.maximum(1.0, np.abs(theta[suspicious]))) \
            + np.abs(at_h - centered(f, theta, 2 * base, suspicious))
    if len(unmeasured):
        # the re-measured sample decides for the rest: mostly wrong → name them all, else trust none
        still = np.abs(analytic[suspicious] - numeric[suspicious]) > 10 * uncertainty[suspicious]
        confirmed = float(np.mean(still))
        if confirmed < 0.9:
            uncertainty[unmeasured] = np.abs(analytic[unmeasured] - numeric[unmeasured])
        notes.append(f"{len(suspicious) + len(unmeasured)} entries looked wrong by forward differences; "
                     f"{len(suspicious)} (a random sample) were re-measured by centered differences and "
                     f"{confirmed:.0%} of those confirmed, so the other {len(unmeasured)} are "
                     + ("named wrong too" if confirmed >= 0.9 else "not named (mode='directions' or "
                        "complex_step=True to measure them)"))
    notes.append(f"{n} entries: forward differences (ε = {FORWARD_EPS:g}), their error measured on {len(sample)} "
                 f"sampled entries, {len(suspicious)} suspicious entries re-measured by centered differences; "
                 "complex step and the full ε sweep skipped for speed")
    return numeric, uncertainty


def _kinks(f, theta, f0, indices, base) -> list:
    """Entries whose left and right differences disagree at h and at h/100: a kink within the step."""
    found = []
    x = theta.copy()
    for i in indices[:10]:
        jumps = []
        for h in (base * max(1.0, abs(theta[i])), base / 100 * max(1.0, abs(theta[i]))):
            x[i] = theta[i] + h
            right = (float(np.real(f(x))) - f0) / h
            x[i] = theta[i] - h
            left = (f0 - float(np.real(f(x)))) / h
            x[i] = theta[i]
            jumps.append((abs(right - left), abs(right) + abs(left)))
        if all(jump > 1e-3 * size for jump, size in jumps) and jumps[1][0] > 0.1 * jumps[0][0]:
            found.append(i)
    return found


def _float64_check(problem: Problem, *, eps, complex_mode, sweep, seed, notes, dropped="") -> GradientCheckResult:
    base = DEFAULT_EPS if eps is None else float(eps)
    f, f0, nondeterministic, analytic = float64_setup(problem)
    theta, n = problem.theta, problem.theta.size
    rng = np.random.default_rng(seed)
    if n <= THOROUGH_N or complex_mode is True:
        numeric, uncertainty, method, used_eps, reference = _thorough(f, theta, base, f0, complex_mode, notes)
    else:
        numeric, uncertainty = _fast(f, theta, base, f0, analytic, rng, notes)
        method, used_eps, reference = "centered differences", base, None
    judged = float64_judged(theta, analytic, numeric, np.broadcast_to(uncertainty, theta.shape).copy(),
                            problem.packing)
    table = None
    if sweep is not False and sweep is not None:
        sample = None
        if sweep == "auto" and n > FULL_SWEEP_N:
            sample = np.sort(rng.choice(n, size=SWEEP_SAMPLE, replace=False))
            notes.append(f"ε sweep over {SWEEP_SAMPLE} sampled entries (sweep=True for all {n})")
        steps = SWEEP_EPS if sweep in (True, "auto") else sweep
        table = sweep_table(f, theta, analytic, f0, steps, reference, sample)
    kinks = _kinks(f, theta, f0, list(np.flatnonzero(judged.bad)), base) if judged.bad.any() else []
    float32 = list(problem.packing.float32) + (["f's result"] if f.float32 else [])
    reasons = diagnosis.circumstances(nondeterministic=nondeterministic,
                                      kinks=[problem.packing.label(i) for i in kinks], float32=float32,
                                      dropped=dropped)
    notes.append(f"{f.calls} evaluations of f")
    return build_result(judged, problem.packing, method=method, eps=used_eps, notes=notes, sweep=table,
                        circumstances=reasons)


def validate_settings(precision: str, dps, eps) -> None:
    """One clear error for a precision other than ``"float64"``/``"mp"``, ``dps`` outside 10…1000
    (checked for ``"mp"`` only) or a step ``eps`` outside (0, 1)."""
    if precision not in PRECISIONS:
        raise DerivauditError(f"precision must be 'float64' or 'mp', not {precision!r}")
    if eps is not None and (not (0 < float(eps) < 1) or not np.isfinite(float(eps))):
        raise DerivauditError(f"eps must be a step between 0 and 1, not {eps!r}")
    if precision == "mp" and (not isinstance(dps, int) or isinstance(dps, bool) or not 10 <= dps <= 1000):
        raise DerivauditError(f"dps must be an integer from 10 to 1000, not {dps!r}")


def run_check(problem: Problem, *, precision: str = "float64", dps: int = 50, eps: float | None = None,
              complex_step: bool | str = "auto", sweep="auto", seed: int = 0) -> GradientCheckResult:
    """Check ``problem`` in ``precision``; see the module docstring for what each precision does."""
    validate_settings(precision, dps, eps)
    if complex_step not in ("auto", True, False):
        raise DerivauditError(f"complex_step must be 'auto', True or False, not {complex_step!r}")
    notes: list[str] = []
    problem = isolated(problem)
    if precision == "mp":
        from derivaudit.gradcheck.balls import mp_check
        result, why = mp_check(problem, dps, notes)
        if result is not None:
            return result
        return _float64_check(problem, eps=eps, complex_mode=complex_step, sweep=sweep, seed=seed, notes=notes,
                              dropped=why)
    return _float64_check(problem, eps=eps, complex_mode=complex_step, sweep=sweep, seed=seed, notes=notes)
