"""Audit specifications: a model, its loss and hand-derived gradients, in TOML.

A spec names small concrete shapes, the parameters, forward definitions
ending in a scalar ``loss``, optional backward intermediates and one claimed
gradient per parameter; formulas are NumPy (:mod:`derivaudit.lang.array_walker`,
docs/audit.md "The spec language")::

    [shapes]            # every input that is not a literal: any number of dimensions, [] a scalar
    X = [8, 4]
    W = [4, 3]
    b = [3]
    [params]            # what the loss is differentiated by
    names = ["W", "b"]
    [data]              # optional: "symbolic" (default), "random", "onehot(axis=N)", or literals
    y = [0, 2, 1, 1, 0, 2, 1, 0]
    [forward]           # NumPy formulas over inputs, literals and other definitions
    Z = "X @ W + b"
    loss = "-np.mean(log_softmax(Z, axis=1)[np.arange(8), y])"
    [backward]          # optional intermediates for hand-written backprop
    dZ = "(softmax(Z, axis=1) - np.eye(3)[y]) / 8"
    [claims]            # claimed d loss / d param, keyed by parameter (W or dW)
    W = "X.T @ dZ"
    b = "dZ.sum(axis=0)"
    [audit]             # optional: dps, seed, points, range, steps, float64_step, thresholds

:func:`load_spec` reads and validates the text (sections, keys, names,
``[audit]`` values, dependency cycles) and builds the model once under
``Limits.symbolic_seconds``; :func:`build` instantiates every input with
scalar symbols (``W[0,1]``, ...) and evaluates every definition, checking
shapes.  A problem of the model (``[shapes]``, ``[params]``, ``[data]``,
``[forward]``, ``[audit]``) is a :class:`~derivaudit.errors.SpecError` naming
the section and key at fault; a ``[backward]``, ``[claims]`` or
``[hessians]`` formula that cannot be read or evaluated is set aside as
:attr:`AuditSpec.malformed` with that same line, and the audit judges the
rest (:mod:`derivaudit.audits.definitions`).  ``[data]`` and the draws of
data at every evidence point are :mod:`derivaudit.audits.data`'s.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy as sp

from derivaudit.lang.array_walker import parse_array_formula
from derivaudit.lang.arrays import Array, Value, elementwise, entries, shape_of, symbol_array
from derivaudit.audits.data import MAX_DATA_ENTRIES, data_section, draw_data, is_drawn, random_rational
from derivaudit.audits.definitions import (Definition, Malformed, blocked, check_name, dependency_order,
                                           read_claims, read_definitions, spec_error, suggest)
from derivaudit.budgets import expired, time_budget
from derivaudit.echo import escape_controls
from derivaudit.errors import DerivauditError, LimitExceeded, SpecError
from derivaudit.limits import DEFAULT_LIMITS, Limits
from derivaudit.lang.functions import switching_functions
from derivaudit.lang.parse import parse_constant

__all__ = ["AuditSettings", "Definition", "Malformed", "AuditSpec", "Model", "load_spec", "build", "instantiate",
           "claim_layout", "draw_data", "random_rational"]

SECTIONS = ("shapes", "params", "data", "forward", "backward", "claims", "hessians", "audit")
#: more dimensions than anyone audits by hand (NumPy's own limit is 64)
_MAX_DIMENSIONS = 8


@dataclass(frozen=True)
class AuditSettings:
    """The ``[audit]`` section: precision, random points and gradient-check thresholds."""

    #: significant digits of the exact comparisons and of the convergence study
    dps: int = 50
    #: seed of the random points (and of random data)
    seed: int = 0
    #: random points at which claims are compared with the exact gradient
    points: int = 3
    #: interval the random values of parameters and symbolic data are drawn from
    low: float = -1.0
    high: float = 1.0
    #: finite-difference steps of the convergence study (exact decimals)
    steps: tuple[str, ...] = ("1e-2", "1e-3", "1e-4")
    #: step of the float64 centered-difference gradient check
    float64_step: float = 1e-6
    #: relative difference below which a gradient check is fine
    fine: float = 1e-7
    #: ... below which it is ok (at or above: look again)
    look_again: float = 1e-5
    #: ... at or above which it is a bug
    bug: float = 1e-3


@dataclass(frozen=True)
class AuditSpec:
    """A validated audit specification (before instantiation)."""

    source: str
    shapes: dict[str, tuple[int, ...]]
    params: tuple[str, ...]
    data: dict[str, Any]
    forward: tuple[Definition, ...]
    backward: tuple[Definition, ...]
    claims: dict[str, Definition]
    settings: AuditSettings = field(default_factory=AuditSettings)
    #: ``[hessians]``: the claimed Hessian of the loss per parameter (entries flattened in C order)
    hessians: dict[str, Definition] = field(default_factory=dict)
    #: what of ``[backward]``, ``[claims]`` and ``[hessians]`` cannot be read or evaluated, in the spec's
    #: order: left out of ``backward``, ``claims`` and ``hessians`` (those hold what the audit can judge)
    malformed: tuple[Malformed, ...] = ()
    #: the parameters of ``[claims]`` and of ``[hessians]`` in the spec's order, malformed ones included
    order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: the model :func:`load_spec` built to check the shapes (drawn data symbolic), reused by the audit
    models: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def loss(self) -> Definition:
        return next(d for d in self.forward if d.name == "loss")

    def malformed_in(self, section: str) -> dict[str, Malformed]:
        """The malformed formulas of ``section`` (``"claims"``, ...) by name (a claim's: its parameter)."""
        return {m.name: m for m in self.malformed if m.section == section}

    def claimed(self, section: str = "claims") -> tuple[str, ...]:
        """The parameters of ``[claims]`` (or ``[hessians]``) in the spec's order, malformed ones included."""
        return self.order.get(section) or tuple({"claims": self.claims, "hessians": self.hessians}[section])

    def definition(self, name: str) -> Definition | None:
        for d in self.forward + self.backward:
            if d.name == name:
                return d
        return None


@dataclass
class Model:
    """A spec instantiated with scalar symbols: every name's value.

    ``values`` maps inputs and definitions to sympy scalars or
    :class:`~derivaudit.lang.arrays.Array` (a forward definition's value is its
    own symbols, ``local`` holds what they stand for); ``claims`` maps each
    claimed parameter to its evaluated claim; ``symbols()`` lists the free
    input symbols: parameter entries first, then symbolic data.
    """

    spec: AuditSpec
    values: dict[str, Value]
    local: dict[str, Value]
    claims: dict[str, Value]
    loss: sp.Expr
    param_symbols: dict[str, Value]
    data_symbols: dict[str, Value]
    #: each ``[hessians]`` claim evaluated (a matrix of entries in the layer symbols)
    hessians: dict[str, Value] = field(default_factory=dict)
    #: what could not be evaluated (``build(strict=False)``): absent from ``values``, ``claims``, ``hessians``
    malformed: list[Malformed] = field(default_factory=list)

    def switching_functions(self) -> list[sp.Expr]:
        """Expressions in the model's symbols whose zeros are its kinks and jumps.

        Comparisons and steps, ``abs``, ``max``/``min`` (relu, clip, maximum)
        switch where one of these is 0 (:func:`~derivaudit.lang.functions.switching_functions`),
        in the forward layers, the backward definitions and the claims alike:
        evidence must neither sample on them nor step across them.
        """
        values = list(self.local.values()) + [self.values[d.name] for d in self.spec.backward] + \
            list(self.claims.values())
        return switching_functions(e for v in values for e in entries(v))

    def symbols(self) -> tuple[sp.Symbol, ...]:
        out = []
        for value in list(self.param_symbols.values()) + list(self.data_symbols.values()):
            out += entries(value)
        return tuple(out)


def _read(spec: str | Path | Mapping) -> tuple[dict, str]:
    if isinstance(spec, Mapping):
        return dict(spec), "<spec>"
    if not isinstance(spec, (str, Path)):
        raise SpecError(f"an audit spec is a TOML file path or a dict, not {type(spec).__name__}")
    path = Path(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a folder, not a TOML spec") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read it ({exc})") from None
    try:
        return tomllib.loads(text), str(path)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None


def _table(raw: dict, name: str, source: str, required: bool) -> dict:
    value = raw.get(name)
    if value is None:
        if required:
            raise spec_error(source, "", f"missing section [{name}]")
        return {}
    if not isinstance(value, dict):
        raise spec_error(source, "", f"[{name}] must be a table (a section), not {type(value).__name__}")
    return value


def _shape(value, source: str, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > _MAX_DIMENSIONS or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in value):
        raise spec_error(source, where, f"a shape is a list of positive whole numbers ([rows, cols], [n], "
                                        f"[] for a scalar, [heads, tokens, dims], ...), not {value!r}")
    shape = tuple(value)
    if math.prod(shape) > MAX_DATA_ENTRIES:
        raise LimitExceeded(f"{source}: {where}: shape {shape} has more than {MAX_DATA_ENTRIES} entries; "
                            "an audit instantiates every entry, use small sizes")
    return shape


def _settings(table: dict, source: str, limits: Limits) -> AuditSettings:
    defaults = AuditSettings()
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        where = f"[audit] {key}"
        if key in ("dps", "seed", "points"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise spec_error(source, where, f"must be a whole number, not {value!r}")
            low = {"dps": 15, "seed": 0, "points": 1}[key]
            if value < low:
                raise spec_error(source, where, f"must be at least {low}, not {value}")
            if key == "dps" and value > limits.max_dps:
                raise spec_error(source, where, f"{value} digits is above the limit of {limits.max_dps} "
                                                "(Limits.max_dps)")
            kwargs[key] = value
        elif key == "range":
            if (not isinstance(value, list) or len(value) != 2 or
                    not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                    or not all(math.isfinite(v) for v in value) or not value[0] < value[1]):
                raise spec_error(source, where, f"must be [low, high] with finite low < high, not {value!r}")
            kwargs["low"], kwargs["high"] = float(value[0]), float(value[1])
        elif key == "steps":
            if not isinstance(value, list) or len(value) < 2:
                raise spec_error(source, where, "must be a list of at least two steps, e.g. "
                                                "[\"1e-2\", \"1e-3\", \"1e-4\"]")
            steps = []
            for v in value:
                number = parse_constant(str(v), what="step")
                if not (number.is_Rational and 0 < number < 1):
                    raise spec_error(source, where, f"steps must be exact numbers between 0 and 1, not {v!r}")
                steps.append(str(v))
            kwargs["steps"] = tuple(steps)
        elif key in ("float64_step", "fine", "look_again", "bug"):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
                raise spec_error(source, where, f"must be a number between 0 and 1, not {value!r}")
            kwargs[key] = float(value)
        else:
            known = [f.name for f in AuditSettings.__dataclass_fields__.values()
                     if f.name not in ("low", "high")] + ["range"]
            raise spec_error(source, where, f"unknown key{suggest(key, known)}; known keys: "
                                            f"{', '.join(sorted(known))}")
    settings = AuditSettings(**{**defaults.__dict__, **kwargs})
    if not settings.fine < settings.look_again < settings.bug:
        raise spec_error(source, "[audit]", "thresholds must satisfy fine < look_again < bug")
    return settings


def load_spec(spec: str | Path | Mapping, *, limits: Limits = DEFAULT_LIMITS) -> AuditSpec:
    """Read and validate an audit spec from a TOML file or a dict of its sections.

    Checks sections and keys, names, shapes, parameter and data declarations,
    the formulas' syntax, unknown names and dependency cycles, and then
    instantiates the model once (:func:`instantiate`) so that shape mismatches
    and a non-scalar loss are reported here.  A claim that evaluates to
    another shape than its parameter's loads: the audit judges it wrong.

    The model itself (``[shapes]``, ``[params]``, ``[data]``, ``[forward]``,
    ``[audit]``, the keys of ``[claims]`` and ``[hessians]``) must be right:
    each problem raises.  A ``[backward]``, ``[claims]`` or ``[hessians]``
    formula that cannot be read or evaluated (syntax, an unknown name, a
    shape error, a size limit), or that uses such an intermediate, is set
    aside in :attr:`AuditSpec.malformed` with its message, and the rest loads.
    """
    raw, source = _read(spec)
    for section in raw:
        if section not in SECTIONS:
            raise spec_error(source, "", f"unknown section [{section}]{suggest(section, SECTIONS)}; "
                                         f"sections are {', '.join(f'[{s}]' for s in SECTIONS)}")
    shapes, params, data = _inputs(raw, source)
    inputs = set(shapes) | set(data)
    forward = read_definitions(_table(raw, "forward", source, True), "forward", source, limits)
    malformed: dict[str, Malformed] = {}
    backward = read_definitions(_table(raw, "backward", source, False), "backward", source, limits, malformed)
    for d in forward + backward:
        if d.name in inputs:
            raise spec_error(source, f"[{d.section}] {d.name}", f"'{d.name}' is already an input "
                                                                "(declared in [shapes] or [data])")
    clash = {d.name for d in forward} & ({d.name for d in backward} | set(malformed))
    if clash:
        name = sorted(clash)[0]
        raise spec_error(source, f"[backward] {name}", f"'{name}' is already defined in [forward]")
    if not any(d.name == "loss" for d in forward):
        raise spec_error(source, "[forward]", "no 'loss' definition; the last step must be "
                                              "loss = \"...\" (a scalar)")
    ordered_forward = dependency_order(forward, inputs, source)
    forward_names = {d.name for d in forward}
    ordered_backward = dependency_order(backward, inputs | forward_names | set(malformed), source, malformed)
    known = inputs | forward_names | {b.name for b in backward} | set(malformed)
    claims_table = _table(raw, "claims", source, True)
    if not claims_table:
        raise spec_error(source, "[claims]", "no claims; give at least one, e.g. W = \"...\"")
    claims, bad_claims, claim_order = read_claims(claims_table, "claims", params, known, malformed, source, limits)
    hessians, bad_hessians, hessian_order = read_claims(_table(raw, "hessians", source, False), "hessians", params,
                                                     known, malformed, source, limits)
    result = AuditSpec(source, shapes, params, data, ordered_forward, ordered_backward, claims,
                       _settings(_table(raw, "audit", source, False), source, limits), hessians,
                       tuple(malformed.values()) + tuple(bad_claims.values()) + tuple(bad_hessians.values()),
                       {"claims": claim_order, "hessians": hessian_order})
    # shape checks (loss scalar, claims of the right shape), under the budget of symbolic work
    with time_budget(limits.symbolic_seconds, "building the model of the spec", "symbolic_seconds"):
        return instantiate(result, limits=limits)


def _inputs(raw: dict, source: str) -> tuple[dict[str, tuple[int, ...]], tuple[str, ...], dict[str, Any]]:
    """``[shapes]``, ``[params]`` and ``[data]``: the inputs' shapes, the parameters, the data."""
    shapes_table = _table(raw, "shapes", source, True)
    shapes = {}
    for name, value in shapes_table.items():
        check_name(name, source, f"[shapes] {name}")
        shapes[name] = _shape(value, source, f"[shapes] {name}")

    params_table = _table(raw, "params", source, True)
    for key in params_table:
        if key != "names":
            raise spec_error(source, f"[params] {key}", "unknown key; [params] has only names = [...]")
    names = params_table.get("names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise spec_error(source, "[params] names", "must be a non-empty list of names, e.g. [\"W\", \"b\"]")
    for name in names:
        if name not in shapes:
            raise spec_error(source, "[params] names", f"'{name}' is not declared in [shapes]"
                                                       f"{suggest(name, shapes)}")
    if len(set(names)) != len(names):
        raise spec_error(source, "[params] names", "lists a parameter twice")
    params = tuple(names)
    data = data_section(_table(raw, "data", source, False), shapes, params, source,
                        lambda name, where: check_name(name, source, where))
    return shapes, params, data


def _evaluate(d: Definition, env: dict, source: str, limits: Limits, keepdims: bool = False) -> Value:
    try:
        return parse_array_formula(d.formula, env, limits=limits, keepdims=keepdims)
    except LimitExceeded as exc:
        if expired(exc):  # the time of the whole block: no fault of this formula
            raise
        raise LimitExceeded(f"{source}: [{d.section}] {d.name} = {d.formula!r}: {exc}") from None
    except DerivauditError as exc:
        raise spec_error(source, f"[{d.section}] {d.name} = {d.formula!r}", str(exc)) from None


def _evaluated(d: Definition, env: dict, source: str, limits: Limits, keepdims: bool,
               malformed: dict[str, Malformed] | None) -> Value | Malformed:
    """``d``'s value; with ``malformed`` given, a :class:`Malformed` when it cannot be evaluated.

    Without ``malformed`` every error raises.  A time budget running out
    raises either way: the clock is no property of the formula.
    """
    if malformed is None:
        return _evaluate(d, env, source, limits, keepdims)
    stopped = blocked(d, malformed, source, f"[{d.section}] {d.name}")
    if stopped is not None:
        return stopped
    try:
        return _evaluate(d, env, source, limits, keepdims)
    except DerivauditError as exc:
        if expired(exc):
            raise
        return Malformed(d.name, d.section, d.formula, escape_controls(exc))


def claim_layout(claim_shape: tuple, param_shape: tuple) -> str | None:
    """How a claim's shape relates to its parameter's.

    ``"same"``; ``"transposed"`` (the transpose's shape, not square);
    ``"squeezed"`` (1-D where the parameter is a column or row: a reduction
    without ``keepdims=True``); ``None`` when it fits none of these.
    """
    if claim_shape == param_shape:
        return "same"
    if len(param_shape) == 2 and claim_shape == param_shape[::-1]:
        return "transposed"
    if len(claim_shape) == 1 and len(param_shape) == 2 and 1 in param_shape and \
            claim_shape[0] == math.prod(param_shape):
        return "squeezed"
    if claim_shape in ((), (1,), (1, 1)) and math.prod(param_shape) == 1:
        return "same"
    return None


def build(spec: AuditSpec, *, limits: Limits = DEFAULT_LIMITS,
          replace: Mapping[str, str] | None = None, keepdims: bool = False,
          symbolic_draws: bool = False, strict: bool = True) -> Model:
    """Instantiate ``spec`` layer by layer: symbols for inputs, values for every definition.

    Each forward definition ``F`` gets its own symbols ``F[i,j]`` standing for
    its entries (one without variables, such as ``N = X.shape[0]``, stands
    for itself: a constant), and ``model.local[F]`` holds the entries' expressions in
    terms of the symbols of the inputs and earlier definitions.  The model is
    thus a graph of small scalar expressions (what reverse-mode
    differentiation and compiled evaluation need) rather than one huge nested
    expression.  Backward definitions and claims are expressed in these
    symbols too.  ``replace`` swaps the formula of forward definitions
    (``{"A1": "sigmoid(Z1)"}``) and ``keepdims=True`` makes every reduction
    over an axis in the backward definitions and claims keep it, for
    diagnoses that ask "what if".

    Drawn data (``[data]`` kinds ``"random"`` and ``"onehot(axis=N)"``) are
    symbols with ``symbolic_draws=True``: the audit gives them the values of
    :func:`draw_data` at each evidence point.  Without it they take the
    values of the first draw (``[audit] seed``).

    A ``[backward]``, ``[claims]`` or ``[hessians]`` formula that cannot be
    evaluated raises; with ``strict=False`` it is listed in
    ``model.malformed`` instead (so is everything built on such an
    intermediate) and left out of the model.  ``[forward]`` always raises.
    """
    replace = dict(replace or {})
    env: dict[str, Value] = {}
    param_symbols: dict[str, Value] = {}
    data_symbols: dict[str, Value] = {}
    drawn = {} if symbolic_draws else draw_data(spec, 1)[0]
    for name, shape in spec.shapes.items():
        kind = spec.data.get(name, "symbolic")
        if name in spec.params:
            env[name] = param_symbols[name] = symbol_array(name, shape)
        elif kind == "symbolic" or (is_drawn(kind) and symbolic_draws):
            env[name] = data_symbols[name] = symbol_array(name, shape)
        elif is_drawn(kind):
            env[name] = symbol_array(name, shape)
            env[name] = elementwise(lambda s: drawn[s], env[name])
    for name, value in spec.data.items():
        if not isinstance(value, str) and not is_drawn(value):
            env[name] = value  # a literal
    local: dict[str, Value] = {}
    for d in spec.forward:
        if d.name in replace:
            d = Definition(d.name, replace[d.name], d.section, d.uses)
        value = _evaluate(d, env, spec.source, limits)
        if d.name == "loss":
            if isinstance(value, Array):
                if value.size != 1:
                    raise spec_error(spec.source, f"[forward] loss = {spec.loss.formula!r}",
                                          f"the loss must be a scalar, but it has shape {value.shape}; "
                                          "reduce it with sum(...) or mean(...)")
                value = value.flat[0]
        local[d.name] = value
        # a definition without variables (N = X.shape[0], I = np.eye(C)) is a constant: later
        # formulas see its value, so it can size and index (np.arange(N)) as a literal can
        constant = d.name != "loss" and not _has_variables(value)
        env[d.name] = value if constant else symbol_array(d.name, shape_of(value))
    broken: dict[str, Malformed] | None = None if strict else {}
    for d in spec.backward:
        value = _evaluated(d, env, spec.source, limits, keepdims, broken)
        if isinstance(value, Malformed):
            broken[d.name] = value
        else:
            env[d.name] = value
    loss = env["loss"]
    # a claim of another shape than its parameter's is that claim's wrong verdict (the audit
    # judges it, see claim_layout); one that cannot be evaluated is malformed (strict=False):
    # neither costs another claim its verdict
    claims, hessians, failed = {}, {}, list((broken or {}).values())
    for given, out, keep in ((spec.claims, claims, keepdims), (spec.hessians, hessians, False)):
        for param, d in given.items():
            value = _evaluated(d, env, spec.source, limits, keep, broken)
            if isinstance(value, Malformed):
                failed.append(value)
            else:
                out[param] = value
    return Model(spec, env, local, claims, loss, param_symbols, data_symbols, hessians, failed)


def instantiate(spec: AuditSpec, *, limits: Limits = DEFAULT_LIMITS) -> AuditSpec:
    """``spec`` with its model built (drawn data symbolic) in ``spec.models``, and what cannot be evaluated set aside.

    A ``[backward]``, ``[claims]`` or ``[hessians]`` formula whose evaluation
    fails (a shape error, a size limit; or that uses such an intermediate)
    moves to :attr:`AuditSpec.malformed`; a ``[forward]`` one raises.
    """
    model = build(spec, limits=limits, symbolic_draws=True, strict=False)
    if model.malformed:
        gone = {(m.section, m.name) for m in model.malformed}
        spec = dataclasses.replace(
            spec, backward=tuple(d for d in spec.backward if ("backward", d.name) not in gone),
            claims={p: d for p, d in spec.claims.items() if ("claims", p) not in gone},
            hessians={p: d for p, d in spec.hessians.items() if ("hessians", p) not in gone},
            # in the sections' order (found when read, or when evaluated: both are the spec's problems)
            malformed=tuple(sorted(spec.malformed + tuple(model.malformed), key=lambda m: SECTIONS.index(m.section))),
            order=dict(spec.order), models={})
        model.spec = spec
    spec.models["symbolic draws"] = model
    return spec


def _has_variables(value: Value) -> bool:
    """Does some entry of ``value`` depend on a symbol (else the definition is a constant)?"""
    return any(isinstance(e, sp.Basic) and e.free_symbols for e in entries(value))


def build_what_if(model: Model, replace: Mapping[str, str], *, limits: Limits = DEFAULT_LIMITS) -> Model:
    """``model`` with the forward definitions ``replace``d, re-evaluating those alone.

    Every later definition reads a forward definition through its own
    symbols ``F[i,j]`` (see :func:`build`), so swapping ``A1 = tanh(Z1)`` for
    ``A1 = sigmoid(Z1)`` changes what ``A1``'s symbols stand for and nothing
    else: the other layers, the backward definitions and the claims are
    ``model``'s.  A replacement that changes the definition's shape, or makes
    it a constant, changes what later formulas see; then the whole spec is
    rebuilt (:func:`build`).  ``model`` is one built with ``symbolic_draws=True``
    (the audit's).
    """
    spec = model.spec
    definitions = {d.name: d for d in spec.forward}
    local = dict(model.local)
    for name, formula in replace.items():
        d = definitions[name]
        value = _evaluate(Definition(name, formula, d.section, d.uses), model.values, spec.source, limits)
        symbols = model.values[name]
        if name == "loss" or shape_of(value) != shape_of(symbols) or \
                not any(isinstance(s, sp.Symbol) for s in entries(symbols)) or \
                not _has_variables(value):
            return build(spec, limits=limits, replace=replace, symbolic_draws=True)
        local[name] = value
    return dataclasses.replace(model, local=local)
