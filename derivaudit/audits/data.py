"""The ``[data]`` section of an audit spec: what each non-parameter input is, and drawing it.

An input that is not a parameter is one of

- ``"symbolic"`` (the default for a name in ``[shapes]``): its entries stay
  symbols, so a proof holds for every value; evidence points give them
  random values like the parameters';
- ``"random"``: random values in ``[audit] range``, drawn afresh at every
  evidence point;
- ``"onehot(axis=N)"``: one-hot labels (exactly one 1 along axis ``N``),
  drawn afresh at every evidence point, every class appearing at least once
  across the points;
- a literal: a number (``reg = 0.1``), or nested lists of numbers
  (``y = [0, 2, 1, 1, 0]``, integer class labels); a literal needs no
  ``[shapes]`` entry (its shape is the lists'), and it is a constant: never
  differentiated, usable as an index.

:func:`draw_data` gives the drawn inputs' values at every evidence point;
``[audit] seed`` and the ``seed`` argument of the audit (``--seed``) are the
same seed.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

from derivaudit.errors import LimitExceeded, SpecError
from derivaudit.lang.arrays import Value, entry_label, wrap
from derivaudit.lang.functions import make_symbol

__all__ = ["MAX_DATA_ENTRIES", "data_section", "draw_data", "random_rational", "is_drawn"]

#: kinds of data given by name (the others are ("onehot", axis) and literals)
_NAMED_KINDS = ("symbolic", "random")
_ONEHOT = re.compile(r"^onehot\(\s*(?:axis\s*=\s*)?(-?\d+)\s*\)$|^onehot$")
#: largest number of entries of one input (the audit instantiates each one)
MAX_DATA_ENTRIES = 10_000


def random_rational(rng: random.Random, low: float, high: float) -> sp.Rational:
    """A reproducible random exact value in [low, high] with six decimals.

    >>> random_rational(random.Random(0), -1.0, 1.0)
    172211/250000
    """
    # six decimals: exact, reproducible, and far from any special value
    return sp.Rational(round((low + (high - low) * rng.random()) * 10**6), 10**6)


def is_drawn(kind) -> bool:
    """Is an input of this ``[data]`` kind drawn afresh at every evidence point?"""
    return kind == "random" or (isinstance(kind, tuple) and kind[0] == "onehot")


def _exact(value, where: str) -> sp.Rational:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: data values are numbers, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{where}: data values must be finite, not {value!r}")
    # the decimal the user typed (TOML floats print back as their shortest repr): 0.1 is 1/10
    return sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))


def _literal(value, shape: tuple[int, ...] | None, where: str) -> Value:
    """A number or nested lists of numbers as an exact constant value, of ``shape`` if given."""
    try:
        array = np.array(value, dtype=object)
    except ValueError:
        array = None
    if array is None or (isinstance(value, list) and array.dtype != object) or \
            any(isinstance(v, list) for v in array.flat):
        raise SpecError(f"{where}: nested lists must be rectangular (every row the same length)")
    if shape is not None and array.shape != tuple(shape):
        raise SpecError(f"{where}: values have shape {array.shape}, but [shapes] says {tuple(shape)}")
    if array.size > MAX_DATA_ENTRIES:
        raise LimitExceeded(f"{where}: {array.size} values (limit {MAX_DATA_ENTRIES})")
    if array.size == 0:
        raise SpecError(f"{where}: an empty list is no data")
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(*array.shape):
        out[index] = _exact(array[index], where)
    return wrap(out)


def data_section(table: Mapping[str, Any], shapes: Mapping[str, tuple], params: tuple,
                 source: str, check_name) -> dict[str, Any]:
    """The ``[data]`` table validated: name → "symbolic", "random", ("onehot", axis) or a constant value.

    ``check_name(name, where)`` applies the spec's naming rules to literals
    that have no ``[shapes]`` entry.
    """
    data: dict[str, Any] = {}
    for name, value in table.items():
        where = f"{source}: [data] {name}"
        if name in params:
            raise SpecError(f"{where}: '{name}' is a parameter; parameters are always symbolic")
        if isinstance(value, str):
            if name not in shapes:
                raise SpecError(f"{where}: '{name}' is not declared in [shapes]; a kind such as "
                                f"{value!r} needs a shape (literal numbers do not)")
            data[name] = _kind(value, shapes[name], where)
        elif isinstance(value, (int, float, list)) and not isinstance(value, bool):
            if name not in shapes:
                check_name(name, f"[data] {name}")
            data[name] = _literal(value, shapes.get(name), where)
        else:
            raise SpecError(f"{where}: must be a kind (text) or numbers, not {type(value).__name__}")
    return data


def _kind(value: str, shape: tuple, where: str):
    text = value.strip()
    if text in _NAMED_KINDS:
        return text
    match = _ONEHOT.match(text)
    if not match:
        raise SpecError(f"{where}: unknown kind {value!r}; use \"symbolic\", \"random\", "
                        "\"onehot(axis=N)\" or numbers")
    axis = int(match.group(1) or 0)
    if not shape or not -len(shape) <= axis < len(shape):
        raise SpecError(f"{where}: onehot axis {axis} does not fit shape {shape}")
    return ("onehot", axis % len(shape))


def _onehot_draws(shape: tuple, axis: int, points: int, rng: random.Random) -> list[np.ndarray]:
    """``points`` one-hot arrays; across them every class appears at least once when there is room."""
    classes = shape[axis]
    others = [n for i, n in enumerate(shape) if i != axis]
    slots = points * math.prod(others)
    hot = [rng.randrange(classes) for _ in range(slots)]
    # every class in its own random slot (as many classes as there are slots)
    for cls, slot in enumerate(rng.sample(range(slots), min(classes, slots))):
        hot[slot] = cls
    draws = []
    per_point = math.prod(others)
    for k in range(points):
        values = np.zeros(shape, dtype=int)
        for j, rest in enumerate(np.ndindex(*others)):
            index = list(rest)
            index.insert(axis, hot[k * per_point + j])
            values[tuple(index)] = 1
        draws.append(values)
    return draws


def draw_data(spec, points: int, seed: int | None = None) -> list[dict[sp.Symbol, sp.Rational]]:
    """The values of the drawn inputs at each of ``points`` evidence points.

    Drawn inputs are the ``[data]`` entries of kind ``"random"`` (values in
    the spec's ``[audit] range``, six decimals) and ``"onehot(axis=N)"``
    (across the points every class appears at least once, when the points
    have room for every class).  Each point is a dict from an entry's symbol
    (``Y[0,1]``, the symbols :func:`~derivaudit.audits.spec.build` makes with
    ``symbolic_draws=True``) to its exact value.  ``seed`` defaults to
    ``spec.settings.seed``; the same seed gives the same draws, whether it
    came from ``[audit] seed`` or from the ``seed`` argument (``--seed``).

    >>> from derivaudit.audits.spec import load_spec
    >>> spec = load_spec({"shapes": {"Y": [3, 2], "W": [3, 1]}, "params": {"names": ["W"]},
    ...     "data": {"Y": "onehot(axis=0)"}, "forward": {"loss": "sum(W * Y)"},
    ...     "claims": {"W": "sum(Y, axis=1, keepdims=True)"}})
    >>> draws = draw_data(spec, points=3, seed=7)
    >>> len(draws), sorted({s.name for s in draws[0]})[:2]
    (3, ['Y[0,0]', 'Y[0,1]'])
    >>> all(sum(d[s] for s in d if s.name.endswith(f",{n}]")) == 1 for d in draws for n in (0, 1))
    True
    """
    settings = spec.settings
    seed = settings.seed if seed is None else seed
    draws: list[dict[sp.Symbol, sp.Rational]] = [{} for _ in range(points)]
    for name in sorted(spec.data):
        kind = spec.data[name]
        if not is_drawn(kind):
            continue
        shape = spec.shapes[name]
        rng = random.Random(f"{seed}:{name}")
        symbols = [make_symbol(entry_label(name, index)) for index in np.ndindex(*shape)]
        if kind == "random":
            for point in draws:
                point.update((s, random_rational(rng, settings.low, settings.high)) for s in symbols)
        else:
            for point, values in zip(draws, _onehot_draws(shape, kind[1], points, rng)):
                point.update((s, sp.Integer(int(v))) for s, v in zip(symbols, values.flat))
    return draws
