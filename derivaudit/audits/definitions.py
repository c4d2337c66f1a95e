"""The formulas of an audit spec's sections: names, what each uses, their order, and the malformed ones.

``[forward]``, ``[backward]``, ``[claims]`` and ``[hessians]`` are tables of
``name = "formula"``.  Each formula becomes a :class:`Definition` with the
names it uses (read without evaluating it); :func:`dependency_order` sorts
definitions so that each comes after what it uses, and names unknown names
and cycles.

What the audit can still judge around a bad formula is decided here: a
``[backward]``, ``[claims]`` or ``[hessians]`` formula that cannot be read
(syntax, an unknown name, a size limit) is a :class:`Malformed` with the one
line an error would give, and so is every formula that uses a malformed
intermediate (:func:`blocked`, naming it).  A bad ``[forward]`` formula, a
key that names no parameter and a cycle are the model's own errors and raise
:class:`~derivaudit.errors.SpecError`.

>>> d = Definition("dW", "dZ @ X", "backward", frozenset({"dZ", "X"}))
>>> bad = {"dZ": Malformed("dZ", "backward", "A -", "s.toml: [backward] dZ = 'A -': syntax error")}
>>> blocked(d, bad, "s.toml", "[backward] dW").message
"s.toml: [backward] dW: uses 'dZ', which cannot be evaluated: [backward] dZ = 'A -': syntax error"
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from derivaudit.budgets import expired
from derivaudit.echo import escape_controls
from derivaudit.errors import DerivauditError, SpecError
from derivaudit.lang.array_walker import RESERVED_NAMES, formula_names
from derivaudit.lang.functions import ALSO_VARIABLES, CONSTANTS, FUNCTIONS
from derivaudit.lang.hints import closest_name
from derivaudit.limits import Limits

__all__ = ["Definition", "Malformed", "spec_error", "suggest", "check_name", "read_definitions", "unknown_name",
           "blocked", "dependency_order", "read_claims"]


@dataclass(frozen=True)
class Definition:
    """``name = formula`` from a section, with the names it uses."""

    name: str
    formula: str
    section: str
    uses: frozenset[str]


@dataclass(frozen=True)
class Malformed:
    """A ``[backward]``, ``[claims]`` or ``[hessians]`` formula that cannot be read or evaluated.

    ``name`` is the definition's (a claim's parameter); ``message`` is the
    one line an error would give (what, where, how to fix; control
    characters escaped).  A claim that uses a malformed intermediate is
    malformed too, its message naming the intermediate, and ``cause`` names
    it; ``cause`` is empty when the formula itself is at fault.  The audit
    judges everything else: a malformed claim's verdict is ``invalid``.
    """

    name: str
    section: str
    formula: str
    message: str
    cause: str = ""


def spec_error(source: str, where: str, message: str) -> SpecError:
    """The error ``source: where: message`` (``where`` names the section and key, e.g. ``[claims] W``)."""
    return SpecError(f"{source}: {where}: {message}" if where else f"{source}: {message}")


def suggest(name: str, known) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to a misspelt ``name``, or ""."""
    close = closest_name(name, known)
    return f" (did you mean '{close}'?)" if close else ""


def check_name(name: str, source: str, where: str) -> None:
    """Raise unless ``name`` may name an input or a definition (an ASCII identifier, no function's name)."""
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise spec_error(source, where, f"'{name}' is not a valid name (letters, digits, _)")
    # NumPy's function names (var, sum, ...) may name values: calls are told apart by their syntax
    if (name in FUNCTIONS and name not in ALSO_VARIABLES) or name in CONSTANTS or name in RESERVED_NAMES:
        raise spec_error(source, where, f"'{name}' is the name of a function or constant; rename it")
    if name.startswith("__"):
        raise spec_error(source, where, f"'{name}' is not allowed (dunder names are reserved)")


def read_definitions(table: dict, section: str, source: str, limits: Limits,
                     malformed: dict[str, Malformed] | None = None) -> list[Definition]:
    """``name = formula`` of ``section``, with the names each formula uses.

    A formula that cannot be read raises, unless ``malformed`` is given: it is
    recorded there (by its key) and left out.  A bad key always raises.
    """
    out = []
    for name, text in table.items():
        where = f"[{section}] {name}"
        check_name(name, source, where)
        try:
            if not isinstance(text, str):
                raise spec_error(source, where, f"must be a formula in quotes, not {type(text).__name__}")
            try:
                uses = formula_names(text, limits=limits)
            except DerivauditError as exc:
                if expired(exc):
                    raise
                raise spec_error(source, f"{where} = {text!r}", str(exc)) from None
        except SpecError as exc:
            if malformed is None:
                raise
            malformed[name] = Malformed(name, section, str(text), escape_controls(exc))
            continue
        out.append(Definition(name, text, section, frozenset(uses)))
    return out


def unknown_name(d: Definition, known, source: str, where: str, declared: str = "") -> Malformed | None:
    """``d`` as malformed when it uses a name that is neither an input nor a definition."""
    for used in sorted(d.uses):
        if used not in known:
            message = (f"uses '{used}', which is neither declared{declared} nor defined"
                       f"{suggest(used, known)}")
            return Malformed(d.name, d.section, d.formula, escape_controls(spec_error(source, where, message)))
    return None


def blocked(d: Definition, malformed: Mapping[str, Malformed], source: str, where: str) -> Malformed | None:
    """``d`` as malformed when it uses a malformed ``[backward]`` intermediate, naming it."""
    for used in sorted(d.uses):
        if used in malformed:
            inner = malformed[used].message.removeprefix(f"{source}: ")
            return Malformed(d.name, d.section, d.formula, escape_controls(
                spec_error(source, where, f"uses '{used}', which cannot be evaluated: {inner}")), cause=used)
    return None


def dependency_order(defs: list[Definition], known: set[str], source: str,
                     malformed: dict[str, Malformed] | None = None) -> tuple[Definition, ...]:
    """``defs`` in dependency order; cycles are errors, and so are unknown names.

    With ``malformed`` given, a definition using an unknown name (or, through
    ``[backward]``, one already malformed) is recorded there and left out.
    """
    by_name = {d.name: d for d in defs}
    for d in defs:
        problem = unknown_name(d, known | set(by_name), source, f"[{d.section}] {d.name}", " in [shapes]")
        if problem is not None:
            if malformed is None:
                raise SpecError(problem.message)
            malformed[d.name] = problem
    if malformed is not None:  # a cycle is malformed too: its members, and what uses them
        for members, cycle in _cycles(by_name, known):
            for name in members:
                malformed[name] = Malformed(name, by_name[name].section, by_name[name].formula, escape_controls(
                    spec_error(source, f"[{by_name[name].section}] {name}",
                               f"definitions form a cycle: {' -> '.join(cycle)}")))
                del by_name[name]
        defs = [d for d in defs if d.name in by_name]
    ordered: list[Definition] = []
    done: set[str] = set()
    # depth-first, with an explicit stack: a chain of thousands of definitions must not recurse
    for root in defs:
        if root.name in done:
            continue
        path = [root.name]
        stack = [(root, iter(sorted(u for u in root.uses if u in by_name and u not in known)))]
        while stack:
            d, uses = stack[-1]
            used = next(uses, None)
            if used is None:
                stack.pop()
                path.pop()
                done.add(d.name)
                ordered.append(d)
            elif used in path:
                cycle = path[path.index(used):] + [used]
                raise spec_error(source, f"[{by_name[used].section}] {used}",
                                 f"definitions form a cycle: {' -> '.join(cycle)}")
            elif used not in done:
                nxt = by_name[used]
                path.append(used)
                stack.append((nxt, iter(sorted(u for u in nxt.uses if u in by_name and u not in known))))
    if malformed is None:
        return tuple(ordered)
    kept = []
    for d in ordered:  # in dependency order: what a malformed intermediate feeds is malformed too
        problem = malformed.get(d.name) or blocked(d, malformed, source, f"[{d.section}] {d.name}")
        if problem is None:
            kept.append(d)
        else:
            malformed[d.name] = problem
    return tuple(kept)


def _claim_parameter(key: str, params: tuple, source: str) -> str:
    if key in params:
        return key
    if key.startswith("d") and key[1:] in params:
        return key[1:]
    raise spec_error(source, f"[claims] {key}",
                     f"claims a gradient for '{key}', which is not a parameter "
                     f"(parameters: {', '.join(params)}){suggest(key, params)}")


def read_claims(table: dict, section: str, params: tuple, known: set, backward: Mapping[str, Malformed],
                source: str, limits: Limits) -> tuple[dict[str, Definition], dict[str, Malformed], tuple[str, ...]]:
    """``[claims]`` or ``[hessians]``: the formulas that can be read, those that cannot, and the order.

    Each is keyed by parameter, in the spec's order (a ``[claims]`` key may
    be ``dW`` for ``W``); a key that names no parameter, or a second claim for
    one, raises.  A formula with a syntax error or an unknown name, or one
    using a malformed intermediate of ``backward``, is malformed.
    """
    keys: dict[str, str] = {}
    for key in table:
        check_name(key, source, f"[{section}] {key}")
        param = _claim_parameter(key, params, source) if section == "claims" else key
        if param not in params:
            raise spec_error(source, f"[{section}] {key}", f"claims a Hessian for '{key}', which is not a "
                                                           f"parameter (parameters: {', '.join(params)})"
                                                           f"{suggest(key, params)}")
        if param in keys.values():
            raise spec_error(source, f"[{section}] {key}", f"a second claim for '{param}'")
        keys[key] = param
    malformed: dict[str, Malformed] = {}
    definitions = {d.name: d for d in read_definitions(table, section, source, limits, malformed)}
    claims: dict[str, Definition] = {}
    bad: dict[str, Malformed] = {}
    for key, param in keys.items():
        if key in malformed:
            bad[param] = dataclasses.replace(malformed[key], name=param)
            continue
        d = definitions[key]
        where = f"[{section}] {key}"
        problem = unknown_name(d, known, source, where) or blocked(d, backward, source, where)
        if problem is not None:
            bad[param] = dataclasses.replace(problem, name=param)
        else:
            claims[param] = Definition(param, d.formula, section, d.uses)
    return claims, bad, tuple(keys.values())


def _cycles(by_name: Mapping[str, Definition], known) -> list[tuple[list[str], list[str]]]:
    """The cycles of the definitions' uses: each strongly connected part of more than one
    definition, and each definition that uses itself, with a cycle through it as a path
    ``[a, b, …, a]`` (Tarjan's algorithm, with an explicit stack).

    >>> d = {n: Definition(n, f, "backward", frozenset(u)) for n, f, u in
    ...      [("a", "b + 1", "b"), ("b", "2 * a", "a"), ("c", "c * x", "cx"), ("e", "a", "a")]}
    >>> _cycles(d, {"x"})
    [(['a', 'b'], ['a', 'b', 'a']), (['c'], ['c', 'c'])]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: list[str] = []
    cycles = []

    def uses(name):
        return iter(sorted(u for u in by_name[name].uses if u in by_name and u not in known))

    for root in by_name:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        on_stack.append(root)
        work = [(root, uses(root))]
        while work:
            name, todo = work[-1]
            used = next(todo, None)
            if used is not None:
                if used not in index:
                    index[used] = low[used] = len(index)
                    on_stack.append(used)
                    work.append((used, uses(used)))
                elif used in on_stack:
                    low[name] = min(low[name], index[used])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[name])
            if low[name] == index[name]:
                part = on_stack[on_stack.index(name):]
                del on_stack[on_stack.index(name):]
                if len(part) > 1 or name in by_name[name].uses:
                    cycles.append((sorted(part), _path(part, by_name)))
    return cycles


def _path(part: list[str], by_name: Mapping[str, Definition]) -> list[str]:
    """A cycle through every definition of a strongly connected ``part``, as ``[a, …, a]``
    (the shortest walk back from the first, for the message)."""
    members = set(part)
    start = min(part)
    previous = {start: None}
    frontier = [start]
    while frontier:  # breadth-first from start, back to start
        nxt = []
        for name in frontier:
            for used in sorted(by_name[name].uses & members):
                if used == start:
                    path = [name]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return path[::-1] + [start]
                if used not in previous:
                    previous[used] = name
                    nxt.append(used)
        frontier = nxt
    return [start, start]  # pragma: no cover - a strongly connected part has a cycle
