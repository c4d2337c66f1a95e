"""Certified witnesses and resolved agreement, with the ball engine of :mod:`derivaudit.core.balls`.

The decision rule for one claimed entry at one evidence point:

- **witness**: the ball of ``claim − exact`` excludes 0 (certified: the
  exact difference is not 0 there) → the claim is wrong;
- **agreement**: the ball contains 0 and both values are certified to
  ``dps`` significant digits (or proved below ``10^-dps`` of the point's
  largest value) → they agree to ``dps`` digits;
- otherwise the precision doubles, up to :func:`precision_cap`; an entry
  still neither witnessed nor resolved there is **unresolved**.

A claim with a witness is ``wrong``; a claim with no witness and an
unresolved entry is ``undecided``.  Before a claim that was not proved is
called correct, every point is evaluated once more at
:data:`WITNESS_SEARCH_FACTOR` × ``dps`` digits, so a difference far below
``dps`` digits (``2W + 1e-60``) is still found.  The model's layers are
evaluated as balls one small definition at a time, so no nested expression
is ever built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import sympy as sp
from flint import arb

from derivaudit.core.ball_steps import SUPPORTED_FUNCTIONS, to_mpf
from derivaudit.core.balls import UnsupportedFunction, ball_precision, compile_balls, digits_to_bits, exact_ball
from derivaudit.core.certify import is_resolved
from derivaudit.errors import DerivauditError
from derivaudit.limits import Limits
from derivaudit.audits.graph import needed_definitions
from derivaudit.audits.points import ExactPointFunction, Outputs, in_parameter_layout

__all__ = ["LayeredBalls", "BallValues", "LayeredBallValues", "Certificate", "certify_claim", "search_witnesses",
           "precision_cap",
           "WITNESS_SEARCH_FACTOR"]

#: a claim not proved is searched for a witness at this multiple of dps before it is called correct
WITNESS_SEARCH_FACTOR = 3
#: the precision rises at least to this many digits (within Limits.max_dps) before values are unresolved
_MIN_CAP_DIGITS = 1000


def precision_cap(dps: int, limits: Limits) -> int:
    """Digits the witness search may raise the precision to."""
    return min(limits.max_dps, max(_MIN_CAP_DIGITS, 4 * dps))


class LayeredBalls:
    """Expressions over a model's layers compiled to balls, one small definition at a time.

    ``chain`` is the model's definitions ``(symbol, expr)`` in evaluation
    order; only those ``exprs`` need are compiled.  :meth:`evaluate` takes
    a ball per input symbol, so the same program gives values at an exact
    point or enclosures over a box around it.
    """

    def __init__(self, chain, exprs):
        self.layers = [(symbol, _compile(expr)) for symbol, expr in needed_definitions(chain, exprs)]
        self.results = [_compile(e) for e in exprs]

    def evaluate(self, env: dict) -> list:
        """Every expression as a ball, from ``env`` (input symbol → ball) at the current precision."""
        env = dict(env)
        for symbol, formula in self.layers:
            env[symbol] = formula(*[env[v] for v in formula.variables])
        return [f(*[env[v] for v in f.variables]) for f in self.results]


class BallValues(ExactPointFunction):
    """Every output of ``outputs`` as a ball at an evidence point, by one reverse pass of ``engine``.

    ``engine`` is the model's :class:`~derivaudit.core.reverse.ReverseGraph`;
    the groups named in ``adjoint_keys`` list symbols whose adjoints
    ``∂loss/∂s`` are the outputs (the exact gradient, the exact backward
    intermediates), the other groups list expressions over the model's
    symbols (claims), evaluated on the same pass.  A ball computed at more
    bits encloses the value as well as one at fewer, so a request is served
    from the most precise evaluation of that point already made.
    """

    def __init__(self, engine, outputs: Outputs, points=(), adjoint_keys=(), on_point=None):
        self.engine = engine
        self.inputs = tuple(engine.inputs)
        self.outputs = outputs
        self.points = list(points)
        self.adjoint_keys = frozenset(adjoint_keys)
        self._cache: dict[tuple, list] = {}
        self.unsupported: UnsupportedFunction | None = None
        self._on_point = on_point  # progress: called after each new evaluation

    def at(self, k: int, bits: int) -> list:
        """All outputs at point ``k`` with at least ``bits`` bits of working precision."""
        return self.at_point(self.points[k], bits)

    def at_point(self, point, bits: int) -> list:
        """All outputs at the exact ``point`` (one value per input) with at least ``bits`` bits."""
        if self.unsupported is not None:
            raise self.unsupported
        key = tuple(point)
        done = [b for (p, b) in self._cache if p == key and b >= bits]
        if done:
            return self._cache[(key, min(done))]
        try:
            with ball_precision(bits):
                state = self.engine.evaluate({s: exact_ball(v) for s, v in zip(self.inputs, point)})
                values = []
                for name, (first, n) in self.outputs.slots.items():
                    exprs = self.outputs.exprs[first:first + n]
                    values += [state.adjoint(e) for e in exprs] if name in self.adjoint_keys else \
                        [state.value(e) for e in exprs]
        except UnsupportedFunction as exc:  # no certificate for any claim: each is undecided, and says why
            self.unsupported = exc
            raise
        self._cache[(key, bits)] = values
        if self._on_point is not None:
            self._on_point()
        return values

    def values(self, point, wp: int) -> list:
        """The outputs at ``point`` as mpmath numbers at ``wp`` digits (NaN where no finite ball)."""
        balls = self.at_point(point, digits_to_bits(wp))
        with mpmath.workdps(wp):
            return [to_mpf(b) if b.is_finite() else mpmath.nan for b in balls]

    def group(self, k: int, bits: int, key: str) -> list:
        first, n = self.outputs.slots[key]
        return self.at(k, bits)[first:first + n]


class LayeredBallValues:
    """Every output of ``outputs`` (expressions over a chain of definitions) as a ball at an evidence point.

    The layers are compiled one small definition at a time (:class:`LayeredBalls`);
    for outputs that are not first derivatives of the loss (claimed Hessians against the
    symbolic second derivatives), where :class:`BallValues`'s reverse pass does not apply.
    """

    def __init__(self, inputs, chain, outputs: Outputs, points):
        self.inputs = tuple(inputs)
        self.outputs = outputs
        self.points = points
        self._cache: dict[tuple[int, int], list] = {}
        self.unsupported: UnsupportedFunction | None = None
        try:
            self._program = LayeredBalls(chain, outputs.exprs)
        except UnsupportedFunction as exc:  # no certificate for any claim: each is undecided, and says why
            self.unsupported = exc

    def at(self, k: int, bits: int) -> list:
        """All outputs at point ``k`` with ``bits`` bits of working precision."""
        if self.unsupported is not None:
            raise self.unsupported
        key = (k, bits)
        if key not in self._cache:
            with ball_precision(bits):
                self._cache[key] = self._program.evaluate(
                    {s: exact_ball(v) for s, v in zip(self.inputs, self.points[k])})
        return self._cache[key]

    def group(self, k: int, bits: int, key: str) -> list:
        first, n = self.outputs.slots[key]
        return self.at(k, bits)[first:first + n]


def _compile(expr: sp.Expr):
    """``expr`` compiled to balls over its free symbols (sorted by name).

    A function of the language the ball engine has no step for, but which
    rewrites as a Piecewise (``step(z)``, a comparison as a number), is
    compiled as that Piecewise, whose balls cover every branch they touch.
    """
    if any(_piecewise_only(f) for f in expr.atoms(sp.Function)):
        expr = expr.replace(_piecewise_only, lambda e: e.rewrite(sp.Piecewise))
    return compile_balls(expr, tuple(sorted(expr.free_symbols, key=lambda s: s.name)))


def _piecewise_only(node) -> bool:
    return isinstance(node, sp.Function) and type(node).__name__ not in SUPPORTED_FUNCTIONS and \
        hasattr(node, "_eval_rewrite_as_Piecewise")


@dataclass
class Certificate:
    """What the balls decided for one claim."""

    #: flat entry (parameter layout) → the point where a ball of claim − exact excludes 0
    witnesses: dict[int, int] = field(default_factory=dict)
    #: flat entries neither witnessed nor resolved at the precision cap
    unresolved: set[int] = field(default_factory=set)
    #: significant digits the precision was raised to
    digits: int = 0
    #: why certification stopped early ("" when it ran to the end)
    note: str = ""
    #: why no symbolic proof was tried ("" when it was)
    proof_note: str = ""


def certify_claim(balls: BallValues, p: str, claim_shape, layout: str, dps: int, limits: Limits) -> Certificate:
    """Witnesses and unresolved entries of the claim for ``p`` over every evidence point."""
    cap = digits_to_bits(precision_cap(dps, limits))
    certificate = Certificate(digits=dps)
    for k in range(len(balls.points)):
        bits = digits_to_bits(dps) + 32
        pending = None
        while True:
            try:
                exact = balls.group(k, bits, f"exact:{p}")
                claim = in_parameter_layout(balls.group(k, bits, f"claim:{p}"), claim_shape, layout)
            except (DerivauditError, ArithmeticError, ValueError) as exc:
                # no ball at this point (a DiracDelta met exactly): nothing is certified here
                pending = set(range(len(balls.outputs.indices([f"exact:{p}"])))) if pending is None else pending
                certificate.note = certificate.note or f"the values at random point {k + 1} have no ball: {exc}"
                break
            pending = _undecided_entries(exact, claim, dps, pending, k, certificate, final=bits >= cap)
            if not pending or bits >= cap:
                break
            bits = min(cap, 2 * bits)
        certificate.unresolved |= pending
        certificate.digits = max(certificate.digits, round(bits / 3.33))
    return certificate


def search_witnesses(balls: BallValues, p: str, claim_shape, layout: str, dps: int, limits: Limits,
                     certificate: Certificate) -> None:
    """Look for witnesses at ``WITNESS_SEARCH_FACTOR·dps`` digits (for a claim not proved symbolically)."""
    if not certificate.witnesses:
        bits = digits_to_bits(min(WITNESS_SEARCH_FACTOR * dps, precision_cap(dps, limits)))
        for k in range(len(balls.points)):
            try:
                exact = balls.group(k, bits, f"exact:{p}")
                claim = in_parameter_layout(balls.group(k, bits, f"claim:{p}"), claim_shape, layout)
            except (DerivauditError, ArithmeticError, ValueError):
                continue  # the search adds witnesses only; a point without balls adds none
            for i, (e, c) in enumerate(zip(exact, claim)):
                if _excludes_zero(c - e):
                    certificate.witnesses.setdefault(i, k)


def _undecided_entries(exact, claim, dps: int, pending, k: int, certificate: Certificate,
                       final: bool) -> set[int]:
    """Entries still neither witnessed nor resolved at point ``k`` (recording witnesses found).

    At the precision cap (``final``) a claim that is still no finite number
    where the exact gradient is resolved is a witness too: the claim is
    undefined where the gradient is defined.
    """
    entries = range(len(exact)) if pending is None else sorted(pending)
    scale = max((abs(v.mid()) for v in list(exact) + list(claim) if v.is_finite()), default=arb(0))
    resolution = arb(10) ** -dps * scale if scale else None
    still = set()
    for i in entries:
        e, c = exact[i], claim[i]
        if e.is_finite() and c.is_finite() and _excludes_zero(c - e):
            certificate.witnesses.setdefault(i, k)
        elif is_resolved(e, dps, resolution)[0] and is_resolved(c, dps, resolution)[0]:
            continue
        elif final and not c.is_finite() and is_resolved(e, dps, resolution)[0]:
            certificate.witnesses.setdefault(i, k)
        else:
            still.add(i)
    return still


def _excludes_zero(value) -> bool:
    return value.is_finite() and not value.contains(0)
