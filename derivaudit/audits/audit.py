"""Backprop audits: one verdict per claimed gradient of a spec's loss.

For each claimed parameter ``P`` the audit compares the claim with the exact
gradient ``∂loss/∂P``, entry by entry, and gathers numeric evidence a
gradient check would give:

1. **Exact gradient.**  The spec is instantiated layer by layer
   (:func:`~derivaudit.spec.build`): every entry of every forward
   definition is a small scalar expression in the symbols of the layer
   below.  Reverse-mode differentiation over that graph (the chain rule,
   applied symbolically with :func:`sympy.diff` on each small expression)
   gives ``∂loss/∂P[i,j]`` exactly, as a graph too; the nested expression of
   the loss in the parameters is never expanded.
2. **Verdict per entry.**  Claim and gradient are compiled once
   (:func:`sympy.lambdify` to mpmath, the graph as common subexpressions)
   and evaluated at ``points`` random exact points at ``dps + 20`` digits.
   An entry that differs anywhere is *wrong*, with that point as the
   counterexample.  Entries that agree everywhere are then given to a cheap
   symbolic proof (the difference, with non-polynomial layers written out,
   expanded to 0); proved claims say ``proved``, the others ``numerical``.
3. **Numeric evidence** at the first point: centered differences
   ``(L(P+h) − L(P−h)) / 2h`` of the loss at each step ``h`` of the
   settings, at ``dps`` digits; the relative difference
   ``‖g_claim − g_num‖ / (‖g_claim‖ + ‖g_num‖)``; its observed order
   ``log(r₁/r₂)/log(h₁/h₂)`` (2 for a right claim: the centered error is
   O(h²); about 0 for a wrong one); and the same check done in float64 with
   the bands of :data:`derivaudit.verdicts.GRADIENT_BANDS` (fine, ok, look again, bug).
4. **Diagnosis** of wrong claims: the wrong entries by rows/columns, a
   transposed result, a constant factor (a missing ``1/m``), a reduction
   that lost its axis (missing ``keepdims=True``), an activation's
   derivative from another activation, the first wrong backward
   intermediate (``dZ1`` is checked against ``∂loss/∂Z1``), and the
   simplified difference of one wrong entry.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pandas as pd
import sympy as sp

from derivaudit.lang.arrays import Array, Value, entries, entry_label, shape_of
from derivaudit.verdicts import gradient_band, relative_difference
from derivaudit.display import html_of
from derivaudit.errors import DerivauditError, DomainError, LimitExceeded
from derivaudit.core.guards import evaluation_limits, lambdify_mpmath, time_budget
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.lang.parse import parse_constant
from derivaudit.progress import Progress, ProgressArg
from derivaudit.studies.orders import observed_order
from derivaudit.audits.spec import AuditSettings, AuditSpec, Model, build, claim_layout, load_spec, random_rational

__all__ = ["ClaimResult", "BackwardCheck", "AuditResult", "audit", "exact_gradient"]

#: activations a forward definition ``A = f(Z)`` may have had confused with another
ACTIVATIONS = ("tanh", "sigmoid", "relu", "softplus", "exp")
#: largest difference (in sympy operations) given to simplify() for display
_SIMPLIFY_OPS = 400
#: seconds spent at most simplifying the difference shown for a wrong claim
_SIMPLIFY_SECONDS = 2.0
#: largest difference expanded in a proof attempt
_PROOF_OPS = 20_000


@dataclass
class BackwardCheck:
    """A backward intermediate ``dF`` checked against the exact ``∂loss/∂F``."""

    name: str
    of: str
    correct: bool
    wrong_entries: str
    #: the constant k when the intermediate is k·∂loss/∂F (dZ = A − Y for a loss divided by m)
    factor: Fraction | None = None

    def describe(self) -> str:
        if self.correct:
            return f"{self.name} = {self.factor}·∂loss/∂{self.of}" if self.factor else \
                f"{self.name} = ∂loss/∂{self.of}"
        return f"{self.name} WRONG ({self.wrong_entries})"


@dataclass
class ClaimResult:
    """The verdict on one claimed gradient ``∂loss/∂parameter``.

    ``status`` is ``"proved"`` (the difference was shown to be 0
    symbolically), ``"numerical"`` (every entry agrees to ``dps`` digits at
    every random point, no proof) or ``"different"`` (some entry differs:
    ``wrong_entries`` lists them, ``counterexample`` gives a point).
    """

    parameter: str
    shape: tuple[int, ...]
    claim: str
    claim_shape: tuple[int, ...]
    status: str
    wrong_entries: list[tuple[int, ...]]
    wrong_description: str
    diagnosis: list[str]
    difference: str
    counterexample: dict[str, str]
    rel_difference: float
    rel_difference_float64: float
    grade: str
    order: float
    fd_order: float
    steps: list[str]
    rel_by_step: list[float]
    proved_entries: int
    entries: int
    #: |claim − exact| per entry (parameter layout) at the first random point
    entry_abs_difference: list[float] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.status in ("proved", "numerical")

    @property
    def verdict(self) -> str:
        if self.status == "proved":
            return "correct (proved)"
        if self.status == "numerical":
            return "correct (numerically)"
        return "wrong"


@dataclass
class AuditResult:
    """All verdicts of one audit, in the order of the spec's claims."""

    source: str
    claims: list[ClaimResult]
    backward: list[BackwardCheck]
    settings: AuditSettings
    seconds: dict[str, float] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        """The HTML report, shown inline by Jupyter."""
        return html_of(self)

    @property
    def ok(self) -> bool:
        return all(c.correct for c in self.claims)

    def __getitem__(self, parameter: str) -> ClaimResult:
        for c in self.claims:
            if c.parameter == parameter:
                return c
        raise KeyError(parameter)

    def table(self) -> pd.DataFrame:
        """One row per claim: parameter, shape, verdict, rel. differences, order, wrong entries."""
        return pd.DataFrame([{
            "parameter": c.parameter, "shape": "x".join(map(str, c.shape)) or "scalar",
            "verdict": c.verdict, "rel_difference": c.rel_difference,
            "rel_difference_float64": c.rel_difference_float64, "grade": c.grade,
            "order": c.order, "wrong_entries": c.wrong_description,
        } for c in self.claims])

    def summary(self) -> str:
        """The summary table and, for each wrong claim, its diagnosis."""
        rows = []
        for c in self.claims:
            rows.append([c.parameter, "x".join(map(str, c.shape)) or "1", c.verdict,
                         f"{c.rel_difference_float64:.1e}", c.grade,
                         _order_text(c), c.wrong_description or "-"])
        head = ["param", "shape", "verdict", "rel.diff", "check", "order", "wrong entries"]
        widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()
                 for r in [head] + rows]
        wrong = [c for c in self.claims if not c.correct]
        lines.append("")
        lines.append(f"{len(self.claims) - len(wrong)} of {len(self.claims)} claims correct"
                     + (f"; wrong: {', '.join(c.parameter for c in wrong)}" if wrong else ""))
        for c in wrong:
            lines.append("")
            lines.append(f"{c.parameter}: claim {c.claim}")
            for note in c.diagnosis:
                lines.append(f"  - {note}")
            if c.difference:
                lines.append(f"  - {c.difference}")
        bad_backward = [b for b in self.backward if not b.correct]
        if self.backward:
            lines.append("")
            lines.append("backward intermediates: " + "; ".join(b.describe() for b in self.backward))
            if bad_backward:
                lines.append(f"  first wrong step: {bad_backward[0].name} is not ∂loss/∂{bad_backward[0].of}")
        return "\n".join(lines)


def _order_text(c: ClaimResult) -> str:
    if not math.isnan(c.order):
        return f"{c.order:.2f}" if abs(c.order) >= 0.005 else "0.00"
    # no order: the centered differences are exact (a loss at most quadratic in P), or undefined
    return "exact" if all(math.isfinite(r) and r < 1e-30 for r in c.rel_by_step[-2:]) else "-"


# -- exact gradient by reverse mode over the layered model ----------------------------

@dataclass
class _Graph:
    """The model as scalar definitions: ``chain`` in evaluation order, then adjoints."""

    chain: list[tuple[sp.Symbol, sp.Expr]]
    adjoint: dict[sp.Symbol, sp.Symbol]
    gradient: dict[str, Value]


def exact_gradient(model: Model, parameters=None) -> dict[str, Value]:
    """``∂loss/∂P`` for each parameter, exact, as expressions in the model's layer symbols.

    Reverse-mode differentiation: the adjoint ``ū = Σ_v v̄ · ∂v/∂u`` of each
    symbol ``u`` is accumulated from the definitions ``v`` that use it, last
    layer first.  The result is exact (it is the chain rule); evaluate it
    with the layers' definitions (see :func:`_graph`).
    """
    return _graph(model, parameters).gradient


def _graph(model: Model, parameters=None) -> _Graph:
    spec = model.spec
    parameters = list(spec.params if parameters is None else parameters)
    chain: list[tuple[sp.Symbol, sp.Expr]] = []
    for d in spec.forward:
        chain += list(zip(entries(model.values[d.name]), entries(model.local[d.name])))
    contributions: dict[sp.Symbol, list] = defaultdict(list)
    loss_symbol = model.values["loss"]
    contributions[loss_symbol].append(sp.Integer(1))
    wanted = {s for p in parameters for s in entries(model.param_symbols[p])}
    layer_symbols = {s for s, _ in chain}
    adjoint: dict[sp.Symbol, sp.Symbol] = {}
    adjoint_chain = []
    for symbol, expr in reversed(chain):
        terms = contributions.pop(symbol, None)
        if not terms:
            continue
        bar = sp.Symbol(f"d[{symbol.name}]", real=True)
        adjoint[symbol] = bar
        adjoint_chain.append((bar, sp.Add(*terms)))
        for u in expr.free_symbols:
            if u in layer_symbols or u in wanted:
                contributions[u].append(bar * sp.diff(expr, u))
    gradient = {}
    for p in parameters:
        value = model.param_symbols[p]
        grads = [sp.Add(*contributions.get(s, [])) for s in entries(value)]
        gradient[p] = Array(np.array(grads, dtype=object).reshape(shape_of(value))) \
            if isinstance(value, Array) else grads[0]
    return _Graph(chain + adjoint_chain, adjoint, gradient)


# -- compiled evaluation ---------------------------------------------------------------

def _compile(inputs, outputs, chain, module: str):
    """One function of ``inputs`` returning ``outputs``, the chain as its common subexpressions."""
    needed = set().union(*(o.free_symbols for o in outputs)) if outputs else set()
    used = []
    for symbol, expr in reversed(chain):  # keep only the definitions the outputs need
        if symbol in needed:
            used.append((symbol, expr))
            needed |= expr.free_symbols
    used.reverse()
    names = {}
    for k, s in enumerate(list(inputs) + [s for s, _ in used]):
        names[s] = sp.Symbol(f"_v{k}", real=True)
    reps = [(names[s], e.xreplace(names)) for s, e in used]
    body = [o.xreplace(names) for o in outputs]
    arguments = [names[s] for s in inputs]
    layers = lambda exprs: (reps, list(exprs))  # noqa: E731 - the layers as common subexpressions
    if module == "mpmath":
        # magnitude-guarded: exp(exp(exp(x))) must not ask gmp for a number with billions of digits
        return lambdify_mpmath(arguments, body, cse=layers)
    return sp.lambdify(arguments, body, modules=module, cse=layers)


def _random_points(inputs, settings: AuditSettings, count: int) -> list[list[sp.Rational]]:
    rng = random.Random(settings.seed)
    return [[random_rational(rng, settings.low, settings.high) for _ in inputs] for _ in range(count)]


def _defined_points(function, inputs, settings: AuditSettings, wp: int, required):
    """``settings.points`` random points where the ``required`` outputs are real and finite.

    Points where the model is undefined (a log of a negative number, a kink
    met exactly) are skipped; a model undefined at every candidate is an
    error in the spec.  The other outputs (claims) may be NaN there: a claim
    undefined where the gradient is defined is wrong at that point.
    """
    candidates = _random_points(inputs, settings, 20 * settings.points)
    pts, values = [], []
    for point in candidates:
        try:
            vals = _mp_values(function, point, wp)
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            continue
        if all(mpmath.isfinite(vals[i]) for i in required):
            pts.append(point)
            values.append(vals)
            if len(pts) == settings.points:
                return pts, values
    raise DomainError(f"the model is undefined (or not real) at {len(candidates) - len(pts)} of "
                      f"{len(candidates)} random points in [{settings.low}, {settings.high}]; "
                      "set [audit] range to where it is defined")


def _mp_values(function, point, wp: int) -> list:
    with mpmath.workdps(wp):
        args = [mpmath.mpf(v.p) / v.q for v in point]
        values = function(*args)
        out = []
        for v in values:
            if isinstance(v, mpmath.mpc):
                v = v.real if v.imag == 0 else mpmath.nan
            out.append(mpmath.mpf(v))
        return out


# -- describing entries ----------------------------------------------------------------

def describe_entries(wrong: list[tuple[int, ...]], shape: tuple[int, ...]) -> str:
    """``"all 20"``, ``"rows 0, 2"``, ``"column 3"`` or a short list of entries."""
    total = math.prod(shape) if shape else 1
    if not wrong:
        return ""
    if len(wrong) == total:
        return f"all {total}" if total > 1 else "the value"
    if len(shape) == 2:
        rows = sorted({i for i, _ in wrong})
        cols = sorted({j for _, j in wrong})
        if len(wrong) == len(rows) * shape[1]:
            return ("row " if len(rows) == 1 else "rows ") + ", ".join(map(str, rows))
        if len(wrong) == len(cols) * shape[0]:
            return ("column " if len(cols) == 1 else "columns ") + ", ".join(map(str, cols))
    shown = ", ".join("[" + ",".join(map(str, w)) + "]" for w in wrong[:6])
    return f"{len(wrong)} of {total}: {shown}" + (", ..." if len(wrong) > 6 else "")


def _grade(rel: float, settings: AuditSettings) -> str:
    return gradient_band(rel, (settings.fine, settings.look_again, settings.bug))


def _mp_rel(a, b) -> mpmath.mpf:
    num = mpmath.sqrt(mpmath.fsum((x - y) ** 2 for x, y in zip(a, b)))
    den = mpmath.sqrt(mpmath.fsum(x ** 2 for x in a)) + mpmath.sqrt(mpmath.fsum(y ** 2 for y in b))
    return num / den if den else mpmath.mpf(0)


def _as_parameter_layout(values: list, claim_shape, shape, layout: str) -> list:
    """Claim entries arranged like the parameter's (transposed back, or reshaped)."""
    if layout == "transposed":
        return list(np.array(values, dtype=object).reshape(claim_shape).T.flat)
    return list(values)


def _constant_factor(claim_vals, exact_vals) -> Fraction | None:
    """``k`` if claim = k·exact in every entry (to 20 digits), as a simple fraction."""
    if not all(mpmath.isfinite(v) for v in list(claim_vals) + list(exact_vals)):
        return None
    ratios = [c / e for c, e in zip(claim_vals, exact_vals) if abs(e) > mpmath.mpf(10) ** -30]
    if not ratios or any(abs(c) > mpmath.mpf(10) ** -30 for c, e in zip(claim_vals, exact_vals)
                         if abs(e) <= mpmath.mpf(10) ** -30):
        return None
    k = ratios[0]
    if k == 1 or any(abs(r - k) > abs(k) * mpmath.mpf(10) ** -20 for r in ratios):
        return None
    frac = Fraction(str(mpmath.nstr(k, 25))).limit_denominator(10_000)
    if abs(mpmath.mpf(frac.numerator) / frac.denominator - k) > abs(k) * mpmath.mpf(10) ** -20:
        return None
    return frac


def _factor_note(parameter: str, k: Fraction) -> str:
    text = str(k)
    note = f"every entry is {text} × the gradient"
    if k.denominator == 1 and k.numerator > 1:
        note += f": a missing factor 1/{k.numerator} (a missing 1/m?)"
    elif k.numerator == 1 and k.denominator > 1:
        note += f": divided by {k.denominator} once too often"
    elif k == -1:
        note += ": the sign is flipped"
    return note


# -- symbolic proof and display ----------------------------------------------------------

def _definitions(model: Model) -> dict[sp.Symbol, sp.Expr]:
    out = {}
    for d in model.spec.forward:
        out.update(zip(entries(model.values[d.name]), entries(model.local[d.name])))
    return out


def _polynomial_layers(model: Model) -> set[sp.Symbol]:
    """Symbols of forward layers whose entries are polynomials of the layer below (Z = W@A + b).

    They are kept as independent variables in a proof: any identity in them
    holds in particular at their actual values.
    """
    keep = set()
    for d in model.spec.forward:
        values = entries(model.local[d.name])
        if all(v.is_polynomial() for v in values):
            keep.update(entries(model.values[d.name]))
    return keep


def _substitute(expr: sp.Expr, definitions: Mapping, keep: set) -> sp.Expr:
    """Write out every layer symbol of ``expr`` not in ``keep``, recursively."""
    for _ in range(1000):
        targets = {s: definitions[s] for s in expr.free_symbols if s in definitions and s not in keep}
        if not targets:
            return expr
        expr = expr.xreplace(targets)
    return expr


def _expand_adjoints(expr: sp.Expr, graph: _Graph) -> sp.Expr:
    adjoint_defs = {bar: e for bar, e in graph.chain if bar.name.startswith("d[")}
    for _ in range(10_000):
        targets = {s: adjoint_defs[s] for s in expr.free_symbols if s in adjoint_defs}
        if not targets:
            return expr
        expr = expr.xreplace(targets)
    return expr


def _split_exp(expr: sp.Expr) -> sp.Expr:
    """``exp(2a − b)`` → ``E_a**2 · E_b**−1`` with one fresh symbol ``E_m`` per exponent term ``m``.

    Symbols, not ``exp(a)**2``: sympy would fold that back into ``exp(2a)``.
    """
    atoms: dict[sp.Expr, sp.Symbol] = {}

    def split(e):
        out = sp.Integer(1)
        for term in sp.Add.make_args(e.args[0]):
            coeff, rest = term.as_coeff_Mul()
            if rest not in atoms:
                atoms[rest] = sp.Dummy(f"E{len(atoms)}", positive=True)
            out *= atoms[rest] ** coeff
        return out

    return expr.replace(lambda e: isinstance(e, sp.exp), split)


def _proved_zero(difference: sp.Expr) -> bool:
    """Is ``difference`` identically 0?  True only with a proof; False means "not shown".

    Exponentials are split into one atom per exponent term, and every sum
    ``B`` that appears in a denominator is renamed ``σ_B``; one atom ``t`` of
    ``B`` (one whose reciprocal does not occur) is then eliminated with
    ``t = σ_B − (B − t)``.  This change of variables is invertible, so the
    difference is 0 exactly when the resulting Laurent polynomial in the
    atoms and the ``σ``'s expands to 0.  Atoms that are functions of
    independent symbols (``exp(Z[0,1])``, ``tanh(Z[2,3])``) are algebraically
    independent, so the expansion decides the identity for those; anything
    else may fail to be shown (then the verdict stays numerical).
    """
    if difference == 0:
        return True
    if _size(difference) > _PROOF_OPS:
        return False
    expr = _split_exp(difference)
    bases = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow) and node.base.is_Add and node.exp.is_negative and node.base not in bases:
            bases.append(node.base)
    sigmas = {base: sp.Dummy(f"sigma{k}") for k, base in enumerate(bases)}
    expr = expr.xreplace(sigmas)
    inverse = {n.base for n in sp.preorder_traversal(expr) if isinstance(n, sp.Pow) and n.exp.is_negative}
    eliminate, used = {}, set()
    for base, sigma in sigmas.items():
        for atom in sp.Add.make_args(base):
            if atom in inverse or atom in used or not (atom.is_Function or isinstance(atom, sp.Dummy)):
                continue
            if any(atom in sp.Add.make_args(other) for other in bases if other is not base):
                continue
            eliminate[atom] = sigma - (base - atom)
            used.add(atom)
            break
    expr = expr.xreplace(eliminate)
    if _size(expr) > _PROOF_OPS:
        return False
    return sp.expand(expr) == 0


def _size(expr: sp.Expr) -> int:
    """Nodes of the expression tree: a cheap measure of the work sympy will do on it."""
    return sum(1 for _ in sp.preorder_traversal(expr))


def _fold_layers(expr: sp.Expr, model: Model) -> sp.Expr:
    """Rewrite ``expr`` in the names of non-polynomial layers where it can.

    ``tanh(Z1[0,2])`` becomes ``A1[0,2]``; for a softmax layer
    ``A[k,n] = exp(Z[k,n]) / S_n`` every ``exp(Z[k,n])`` becomes ``A[k,n]·S_n``,
    and ``S_n`` cancels from the (degree-0) derivative expressions after
    expansion.  Whatever does not fold stays as it is.
    """
    definitions = _definitions(model)
    keep = _polynomial_layers(model)
    loss = model.values["loss"]
    direct = {}
    exps, sums = {}, {}
    for symbol, local in definitions.items():
        if symbol in keep or symbol == loss:
            continue
        numerator, denominator = local.as_numer_denom()
        if isinstance(numerator, sp.exp) and denominator.is_Add and \
                all(isinstance(t, sp.exp) for t in denominator.args) and numerator in denominator.args:
            sigma = sums.setdefault(denominator, sp.Dummy("S"))
            exps[numerator] = symbol * sigma
        else:
            direct[local] = symbol
    expr = _substitute(expr, definitions, keep).xreplace(direct)
    if not sums:
        return expr
    def base_exp(e):
        return sp.exp(e.args[0].as_coeff_Mul()[1])

    # exp(2z) and exp(-z) too; as powers of symbols, which sympy does not fold back into exp(2z)
    expr = expr.xreplace(sums).replace(lambda e: isinstance(e, sp.exp) and base_exp(e) in exps,
                                       lambda e: exps[base_exp(e)] ** e.args[0].as_coeff_Mul()[0])
    expanded = sp.expand(expr)
    back = {sigma: base for base, sigma in sums.items()}
    return expanded.xreplace(back) if expanded.free_symbols & set(back) else expanded


def _shown_difference(difference: sp.Expr, model: Model, limits: Limits) -> str:
    """The difference of one wrong entry in the layers' names, simplified within a time budget."""
    try:
        with time_budget(min(limits.simplify_seconds, _SIMPLIFY_SECONDS), "simplifying a difference"):
            expr = _fold_layers(difference, model)
            if _size(expr) <= _SIMPLIFY_OPS:
                simplified = sp.factor_terms(sp.simplify(expr))
                if _size(simplified) <= _size(expr):
                    expr = simplified
    except LimitExceeded:
        expr = difference
    text = str(expr)
    return text if len(text) <= 400 else text[:400] + " ..."


# -- the audit ------------------------------------------------------------------------------

def audit(spec: str | Path | Mapping | AuditSpec, *, dps: int | None = None, seed: int | None = None,
          points: int | None = None, limits: Limits = DEFAULT_LIMITS,
          progress: ProgressArg = None) -> AuditResult:
    """Audit every claimed gradient of ``spec`` (a TOML path, a dict, or a loaded spec).

    ``dps``, ``seed`` and ``points`` override the spec's ``[audit]`` settings.
    Returns an :class:`AuditResult` with one :class:`ClaimResult` per claim;
    each claim is judged on its own, so one wrong claim never hides
    another's verdict.  Raises :class:`~derivaudit.errors.SpecError` for a
    bad spec.
    """
    timer = {}
    start = time.perf_counter()
    if not isinstance(spec, AuditSpec):
        spec = load_spec(spec, limits=limits)
    overrides = {k: v for k, v in (("dps", dps), ("seed", seed), ("points", points)) if v is not None}
    for key, value in overrides.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < (15 if key == "dps" else
                                                                              0 if key == "seed" else 1):
            raise DerivauditError(f"{key} must be a whole number"
                                  f"{' ≥ 15' if key == 'dps' else ' ≥ 1' if key == 'points' else ''}, "
                                  f"not {value!r}")
    if overrides.get("dps", 0) > limits.max_dps:
        raise DerivauditError(f"precision {overrides['dps']} digits is above the limit of {limits.max_dps}")
    settings = AuditSettings(**{**spec.settings.__dict__, **overrides})
    # a spec comes from someone derivaudit does not trust: every stage runs under a budget
    with time_budget(limits.symbolic_seconds, "instantiating the spec", "symbolic_seconds"):
        model = build(spec, limits=limits)
    timer["build"] = time.perf_counter() - start

    t = time.perf_counter()
    with time_budget(limits.symbolic_seconds, "differentiating the loss", "symbolic_seconds"):
        graph = _graph(model)
    timer["gradient"] = time.perf_counter() - t

    t = time.perf_counter()
    inputs = model.symbols()
    params = list(spec.claims)
    backward_checks = [(d.name, d.name[1:]) for d in spec.backward
                       if d.name.startswith("d") and (d.name[1:] in model.local or d.name[1:] in spec.params)]
    outputs: list[sp.Expr] = []
    slots: dict[str, tuple[int, int]] = {}

    def add(key, values):
        slots[key] = (len(outputs), len(values))
        outputs.extend(values)

    for p in params:
        add(f"exact:{p}", entries(graph.gradient[p]))
        add(f"claim:{p}", entries(model.claims[p]))
    grad_of = {}
    for name, of in backward_checks:
        symbols_of = entries(model.values[of]) if of in model.local else entries(model.param_symbols[of])
        if of in spec.params:
            grad_of[name] = entries(graph.gradient.get(of) or exact_gradient(model, [of])[of])
        else:
            grad_of[name] = [graph.adjoint.get(s, sp.Integer(0)) for s in symbols_of]
        if shape_of(model.values[name]) != shape_of(model.values[of]):
            continue
        add(f"bexact:{name}", grad_of[name])
        add(f"bclaim:{name}", entries(model.values[name]))
    mp_function = _compile(inputs, outputs, graph.chain, "mpmath")
    loss_chain = [(s, e) for s, e in graph.chain if not s.name.startswith("d[")]
    loss_mp = _compile(inputs, [model.loss], loss_chain, "mpmath")
    loss_np = _compile(inputs, [model.loss], loss_chain, "numpy")
    timer["compile"] = time.perf_counter() - t

    t = time.perf_counter()
    wp = settings.dps + 20
    with evaluation_limits(limits, "evaluating the claims and the exact gradient"):
        required = [i for key, (first, n) in slots.items() if "exact" in key for i in range(first, first + n)]
        pts, values = _defined_points(mp_function, inputs, settings, wp, required)
    timer["evaluate"] = time.perf_counter() - t

    def at(k, key):
        start_, n = slots[key]
        return values[k][start_:start_ + n]

    tol = mpmath.mpf(10) ** (-(settings.dps - 10))

    def differs(a, b, scale):
        if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
            return True  # a claim undefined (or infinite) where the gradient is a number
        with mpmath.workdps(wp):
            return abs(a - b) > tol * max(abs(a), abs(b), scale)

    def wrong_indices(exact_k, claim_k, shape):
        """Indices (in ``shape``) of entries that differ at some point, and the first such point."""
        wrong, first = [], {}
        for k in range(len(pts)):
            e, c = exact_k(k), claim_k(k)
            with mpmath.workdps(wp):
                scale = max([abs(v) for v in e + c if mpmath.isfinite(v)] + [mpmath.mpf(0)]) \
                    * mpmath.mpf(10) ** -10
            for flat, (a, b) in enumerate(zip(e, c)):
                if differs(a, b, scale) and flat not in first:
                    first[flat] = k
        for flat in sorted(first):
            wrong.append(tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ())
        return wrong, first

    backward_results = []
    for name, of in backward_checks:
        if f"bexact:{name}" not in slots:
            backward_results.append(BackwardCheck(name, of, False, f"shape {shape_of(model.values[name])}"
                                                                f" instead of {shape_of(model.values[of])}"))
            continue
        shape = shape_of(model.values[of])
        wrong, _ = wrong_indices(lambda k: at(k, f"bexact:{name}"), lambda k: at(k, f"bclaim:{name}"), shape)
        factor = None
        if wrong:  # dZ2 = A2 - Y is m·∂loss/∂Z2 when the loss is a mean: a convention, not a bug
            factors = {_constant_factor(at(k, f"bclaim:{name}"), at(k, f"bexact:{name}"))
                       for k in range(len(pts))}
            factor = factors.pop() if len(factors) == 1 else None
        backward_results.append(BackwardCheck(name, of, not wrong or factor is not None,
                                              describe_entries(wrong, shape), factor))

    # numeric evidence: centered differences of the loss at the first point
    t = time.perf_counter()
    point0 = pts[0]
    index_of = {s: i for i, s in enumerate(inputs)}
    steps = [_step(s) for s in settings.steps]
    fd_wp = settings.dps + 20
    with mpmath.workdps(fd_wp):
        base = [mpmath.mpf(v.p) / v.q for v in point0]
    h64 = settings.float64_step
    base64 = np.array([float(v) for v in point0])
    numeric: dict[str, dict] = {}
    for p in params:
        syms = entries(model.param_symbols[p])
        idx = [index_of[s] for s in syms]
        by_step = []
        with evaluation_limits(limits, f"the finite differences of the loss for {p}"):
            for h in steps:
                by_step.append(_centered_gradient(loss_mp, base, idx, h, fd_wp))
        # float64: every perturbed input vector in one vectorised call
        n = len(idx)
        grid = np.repeat(base64[:, None], 2 * n, axis=1)
        for k, i in enumerate(idx):
            grid[i, 2 * k] += h64
            grid[i, 2 * k + 1] -= h64
        with np.errstate(all="ignore"):
            losses = np.asarray(loss_np(*grid)[0], dtype=float) * np.ones(2 * n)
        numeric[p] = {"mp": by_step, "float64": (losses[0::2] - losses[1::2]) / (2 * h64)}
    claim_np = _compile(inputs, [v for p in params for v in entries(model.claims[p])], graph.chain, "numpy")
    with np.errstate(all="ignore"):
        claim64_all = [float(v) for v in claim_np(*base64)]
    timer["finite differences"] = time.perf_counter() - t

    t = time.perf_counter()
    definitions = _definitions(model)
    keep = _polynomial_layers(model)
    results = []
    offset64 = 0
    bar = Progress(progress, len(params), "audit")
    for p in params:
        shape = spec.shapes[p]
        claim_value = model.claims[p]
        claim_shape = shape_of(claim_value)
        layout = claim_layout(claim_shape, shape)
        n = math.prod(shape) if shape else 1
        claim64 = np.array(_as_parameter_layout(claim64_all[offset64:offset64 + n], claim_shape, shape, layout),
                           dtype=float)
        offset64 += n
        exact_k = lambda k, p=p: at(k, f"exact:{p}")
        claim_k = lambda k, p=p, cs=claim_shape, lay=layout: _as_parameter_layout(at(k, f"claim:{p}"), cs,
                                                                                   shape, lay)
        wrong, first = wrong_indices(exact_k, claim_k, shape)
        diagnosis: list[str] = []
        status = "different" if wrong or layout != "same" else "numerical"
        if layout == "transposed":
            diagnosis.append(f"the claim has shape {claim_shape}, the transpose of {p}'s {shape}"
                             + ("; transposed back it equals the gradient: the product is written "
                                "the wrong way round" if not wrong else ""))
        elif layout == "squeezed":
            rows = shape[0]
            diagnosis.append(f"the claim has shape {claim_shape} where {p} has shape {shape}: a "
                             f"reduction lost its axis (missing keepdims=True); {p} - lr*d{p} would "
                             f"broadcast to {(rows, rows) if shape[1] == 1 else (shape[1], shape[1])}"
                             + ("; the values themselves are right" if not wrong else ""))
        counterexample = {}
        difference = ""
        proved = 0
        if wrong:
            k0 = first[int(np.ravel_multi_index(wrong[0], shape))] if shape else first[0]
            counterexample = {s.name: str(v) for s, v in zip(inputs, pts[k0])}
            exact0, claim0 = exact_k(0), claim_k(0)
            k = _constant_factor(claim0, exact0)
            if k is not None:
                diagnosis.append(_factor_note(p, k))
            if len(shape) == 2 and shape[0] == shape[1] and layout == "same":
                transposed = list(np.array(claim0, dtype=object).reshape(shape).T.flat)
                if not any(differs(a, b, 0) for a, b in zip(exact0, transposed)):
                    diagnosis.append("the claim is the transpose of the gradient")
            diagnosis += _keepdims_notes(spec, p, limits, pts[0], inputs, exact0, claim_layout)
            diagnosis += _activation_notes(spec, p, model, limits, pts[0], inputs)
            entry = wrong[0]
            flat = int(np.ravel_multi_index(entry, shape)) if shape else 0
            claim_entry = _as_parameter_layout(entries(claim_value), claim_shape, shape, layout)[flat]
            exact_entry = _expand_adjoints(entries(graph.gradient[p])[flat], graph)
            with mpmath.workdps(wp):
                e_val, c_val = exact0[flat], claim0[flat]
            diagnosis.append(f"at the first random point, entry {entry_label(p, entry)}: claim "
                             f"{mpmath.nstr(c_val, 12)}, exact {mpmath.nstr(e_val, 12)}")
            difference = (f"claim - exact for {entry_label(p, entry)} = "
                          f"{_shown_difference(claim_entry - exact_entry, model, limits)}")
        elif layout == "same":
            exact_entries = entries(graph.gradient[p])
            claim_entries = entries(claim_value)
            for c, e in zip(claim_entries, exact_entries):
                diff = _substitute(c - _expand_adjoints(e, graph), definitions, keep)
                if not _proved_zero(diff):
                    break
                proved += 1
            if proved == len(claim_entries):
                status = "proved"
        # numeric evidence
        with mpmath.workdps(fd_wp):
            claim_mp = claim_k(0)
            exact_mp = exact_k(0)
            entry_diff = [abs(c - e) for c, e in zip(claim_mp, exact_mp)]  # for the reports' heat-map
            rels = [_mp_rel(claim_mp, g) for g in numeric[p]["mp"]]
            errs = [_mp_rel(exact_mp, g) for g in numeric[p]["mp"]]
            hs = [mpmath.mpf(h.p) / h.q for h in steps]
            # below the resolution the differences are exact (a loss at most quadratic in P):
            # they have no order
            floor = mpmath.mpf(10) ** -(settings.dps - 10)
            order = _order(rels, hs) if min(rels[-2:]) > floor else math.nan
            fd_order = _order(errs, hs) if min(errs[-2:]) > floor else math.nan
        rel64 = relative_difference(claim64, numeric[p]["float64"])
        if layout != "same":
            rel64 = max(rel64, 1.0) if layout == "transposed" else rel64
        results.append(ClaimResult(
            parameter=p, shape=shape, claim=spec.claims[p].formula, claim_shape=claim_shape,
            status=status, wrong_entries=wrong,
            wrong_description=describe_entries(wrong, shape) if wrong else
            ("all (shape)" if layout != "same" else ""),
            diagnosis=diagnosis, difference=difference, counterexample=counterexample,
            rel_difference=float(rels[-1]), rel_difference_float64=rel64,
            grade=_grade(rel64, settings) if layout == "same" else "bug",
            order=order, fd_order=fd_order, steps=[str(h) for h in settings.steps],
            rel_by_step=[float(r) for r in rels], proved_entries=proved, entries=n,
            entry_abs_difference=entry_diff))
        bar()
    bar.close()
    timer["verdicts"] = time.perf_counter() - t
    timer["total"] = time.perf_counter() - start
    return AuditResult(spec.source, results, backward_results, settings, timer)


def _centered_gradient(loss, base: list, indices: list[int], h: sp.Rational, wp: int) -> list:
    """``(L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h`` for each input ``i`` of ``indices``, at ``wp`` digits.

    The error is O(h²); the subtraction cancels about log10(1/h) digits, which
    the guard digits of ``wp`` cover.
    """
    with mpmath.workdps(wp):
        hh = mpmath.mpf(h.p) / h.q
        out = []
        for i in indices:
            plus, minus = list(base), list(base)
            plus[i] += hh
            minus[i] -= hh
            out.append((loss(*plus)[0] - loss(*minus)[0]) / (2 * hh))
    return out


def _step(text: str) -> sp.Rational:
    return sp.Rational(parse_constant(text, what="step"))


def _order(errors, steps) -> float:
    """Observed order between the last two steps (:func:`~derivaudit.study.observed_order`)."""
    return observed_order(errors[-2:], steps[-2:])[-1]


def _keepdims_notes(spec: AuditSpec, p: str, limits: Limits, point, inputs, exact0, layout_of) -> list[str]:
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
        mutated = build(spec, limits=limits, keepdims=True)
    except DerivauditError:
        return []
    claim = mutated.claims[p]
    if layout_of(shape_of(claim), spec.shapes[p]) != "same":
        return []
    chain = []
    for d in spec.forward:
        chain += list(zip(entries(mutated.values[d.name]), entries(mutated.local[d.name])))
    values = _mp_values(_compile(inputs, entries(claim), chain, "mpmath"), point, 40)
    if all(mpmath.isfinite(v) for v in values) and all(
            abs(a - b) <= mpmath.mpf(10) ** -25 * max(abs(a), abs(b), mpmath.mpf(10) ** -10)
            for a, b in zip(values, exact0)):
        return ["with keepdims=True in its reductions the claim is right: a reduction over an axis "
                "lost it and broadcast as a row (missing keepdims=True)"]
    return []


def _activation_notes(spec: AuditSpec, p: str, model: Model, limits: Limits, point, inputs) -> list[str]:
    """Would the claim be right if one activation of the forward pass were another?

    For each forward definition ``A = f(Z)`` with ``f`` an activation, the
    model is rebuilt with ``A = g(Z)`` for every other activation ``g``; if
    the claim is the exact gradient of that model, the claim used ``g``'s
    derivative where ``f``'s belongs.
    """
    notes = []
    for d in spec.forward:
        text = d.formula.strip()
        for f in ACTIVATIONS:
            if not (text.startswith(f + "(") and text.endswith(")")):
                continue
            argument = text[len(f) + 1:-1]
            for g in ACTIVATIONS:
                if g == f:
                    continue
                try:
                    mutated = build(spec, limits=limits, replace={d.name: f"{g}({argument})"})
                except DerivauditError:
                    continue
                graph = _graph(mutated, [p])
                fn = _compile(inputs, entries(graph.gradient[p]) + entries(mutated.claims[p]),
                              graph.chain, "mpmath")
                vals = _mp_values(fn, point, 40)
                n = len(vals) // 2
                if shape_of(mutated.claims[p]) != spec.shapes[p]:
                    continue
                if all(abs(a - b) <= mpmath.mpf(10) ** -25 * max(abs(a), abs(b), mpmath.mpf(10) ** -10)
                       for a, b in zip(vals[:n], vals[n:])):
                    notes.append(f"the claim is the exact gradient if {d.name} = {g}({argument}) instead "
                                 f"of {f}({argument}): it uses {g}'s derivative where {f}'s belongs")
                    return notes
    return notes
