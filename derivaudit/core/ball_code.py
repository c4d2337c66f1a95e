"""Compiled ball formulas as one Python function each: code built from the tree.

:mod:`derivaudit.core.balls` flattens a sympy tree into numbered registers and
one step per distinct node.  Calling one closure per step costs a Python call
and a list append per node, more than the ball arithmetic of a 50-digit
``sin``; this module writes the same steps as the straight-line body of one
function, registers as local variables::

    def run(r0, r1):               # the formula's arguments, by position
        r3 = r0 * r2               # r2: a constant, bound in a closure cell
        s = ABS(r3)                # the magnitude guard of a product
        if s >= big or s < tiny and not r3.contains(0): FAIL(k0, limit)
        r4 = F0(r3)                # F0: arb.sin, an object, not a name
        return r4

**Why generating source is safe here.**  The text handed to ``compile`` is
assembled only from a fixed vocabulary: register names ``r<n>`` (numbers
counted by the compiler), the names of closure constants ``k<n>``/``F<n>``/
``G<n>`` and of this module's template (``ABS``, ``FAIL``, ``LIMITS``, ...),
the operators ``+ * / **`` and the literal ``1``.  Nothing from the formula is
ever written into it — no variable name (variables are positional parameters),
no number (constants are ball objects in closure cells), no function name
(functions are arb/acb methods passed as objects), no message text (passed as
objects too).  A formula whose variable is called ``mpf``, ``r0`` or ``FAIL``
therefore compiles to exactly the same text as one whose variable is ``x``.
The text runs through ``exec`` once, in a namespace with no builtins, and only
defines the factory ``make``; calling ``make`` with the constants returns the
evaluator.

**Same arithmetic, same numbers.**  Every line performs the operation its step
closure performs, on the same balls in the same order (sums and products fold
left to right), so a generated function returns bit for bit the ball of the
closure program, radius included.  Nodes with rare or structured semantics —
kinks, ``Piecewise``, the mpmath fallbacks — are not written out: their line
calls the step closure itself on a tuple of the registers it reads.  The
magnitude guard is written inline (two ball comparisons); the limits and
bounds it compares with are read once per call, not once per node: nothing in
a formula changes the active :class:`~derivaudit.limits.Limits`.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp
from flint import ctx

from derivaudit.core.ball_steps import (GROWS, KINKS, METHODS, guard_name, int_power, magnitude_bounds,
                                        magnitude_exceeded, special_exponent)
from derivaudit.core.guards import active_limits

__all__ = ["generate"]

#: terms of a long sum or product per generated line (see :func:`_fold`)
_TERMS_PER_LINE = 64
#: the names the template reads besides registers and numbered constants
_TEMPLATE = ("ABS", "FAIL", "LIMITS", "BOUNDS", "CGET", "CMAKE", "CTX")


class _Writer:
    """Collects the body's lines and the closure constants they name."""

    def __init__(self):
        self.lines: list[str] = []
        self.names: list[str] = []
        self.values: list[object] = []
        self.guards = False

    def constant(self, prefix: str, value) -> str:
        name = f"{prefix}{len(self.names)}"
        self.names.append(name)
        self.values.append(value)
        return name

    def guard(self, target: str, node) -> None:
        """The magnitude check of :func:`~derivaudit.core.ball_steps.magnitude_guarded`."""
        self.guards = True
        message = self.constant("k", guard_name(node))
        self.lines.append(f"s = ABS({target})")
        self.lines.append(f"if s >= big or s < tiny and not {target}.contains(0): FAIL({message}, limit)")


def generate(n_args: int, constants: list[tuple[Callable, bool]], nodes, inputs, result: int,
             complex_: bool, local_step: Callable, constants_cache: dict,
             constants_at: Callable) -> Callable:
    """The evaluator of a register program as one generated function.

    ``constants`` are ``(make, fixed)`` pairs: ``fixed`` ones (exact integers and
    binary floats) are built once and bound in closure cells, the others are read
    per precision from ``constants_cache`` (filled by ``constants_at(prec)``, a list
    of every constant).  ``nodes[i]`` reads the registers ``inputs[i]`` and writes
    register ``n_args + len(constants) + i``; ``local_step(node, k)`` is the node's
    step closure reading registers ``0 … k-1`` of a tuple (for the nodes not
    written out).
    """
    w = _Writer()
    reg = [f"r{i}" for i in range(n_args + len(constants) + len(nodes))]
    prologue, fixed_names, fixed_values = [], [], []
    per_precision = [(i, n_args + i) for i, (_, fixed) in enumerate(constants) if not fixed]
    for i, (make, fixed) in enumerate(constants):
        if fixed:
            fixed_names.append(reg[n_args + i])
            fixed_values.append(make())
    if per_precision:
        prologue.append("k = CGET(CTX.prec)")
        prologue.append("if k is None: k = CMAKE(CTX.prec)")
        prologue += [f"{reg[r]} = k[{i}]" for i, r in per_precision]
    for i, (node, reads) in enumerate(zip(nodes, inputs)):
        _write_step(w, reg[n_args + len(constants) + i], node, [reg[j] for j in reads], complex_, local_step)
    if w.guards:
        prologue.append("limit = LIMITS().max_value_digits")
        prologue.append("big, tiny = BOUNDS(limit)")
    body = prologue + w.lines + [f"return {reg[result]}"]
    params = ", ".join(_TEMPLATE + tuple(fixed_names) + tuple(w.names))
    source = (f"def make({params}):\n"
              f"    def run({', '.join(reg[:n_args])}):\n"
              + "".join(f"        {line}\n" for line in body)
              + "    return run\n")
    namespace: dict = {"__builtins__": {}}
    # The text is made of register names, template names and operators only (see the
    # module docstring): no character of it comes from the formula or its variables.
    exec(compile(source, "<derivaudit ball formula>", "exec"), namespace)
    run = namespace["make"](abs, magnitude_exceeded, active_limits, magnitude_bounds,
                            constants_cache.get, constants_at, ctx, *fixed_values, *w.values)
    run.source = source  # for tests and debugging: the text that was compiled
    return run


def _fold(w: _Writer, target: str, args: list[str], op: str) -> None:
    """``target = a op b op …`` folded left to right, at most :data:`_TERMS_PER_LINE` terms a line.

    ``((a op b) op c) op …`` is the order of one long line too, so the balls are
    the same; one line of thousands of operators would nest the compiler's
    syntax tree past its recursion limit.
    """
    w.lines.append(f"{target} = {f' {op} '.join(args[:_TERMS_PER_LINE])}")
    for k in range(_TERMS_PER_LINE, len(args), _TERMS_PER_LINE - 1):
        w.lines.append(f"{target} = {target} {op} {f' {op} '.join(args[k:k + _TERMS_PER_LINE - 1])}")


def _write_step(w: _Writer, target: str, node, args: list[str], complex_: bool,
                local_step: Callable) -> None:
    """One step's lines: the operation its closure in :mod:`~derivaudit.core.ball_steps`
    performs, in the same order; a call of that closure for the nodes not written out."""
    head = type(node)
    if isinstance(node, sp.Add):
        _fold(w, target, args, "+")
        return
    if isinstance(node, sp.Mul):
        _fold(w, target, args, "*")
        w.guard(target, node)
        return
    if isinstance(node, sp.Pow):
        w.lines.append(f"{target} = {_power(w, node, args)}")
        if node.exp not in (sp.S.Half, -1):
            w.guard(target, node)
        return
    method = METHODS.get(head)
    if method is not None and head not in KINKS:
        call = w.constant("F", method[1] if complex_ else method[0])
        w.lines.append(f"{target} = {call}({args[0]})")
        if head in GROWS:
            w.guard(target, node)
        return
    step = w.constant("G", local_step(node, len(args)))
    w.lines.append(f"{target} = {step}(({', '.join(args)},))")


def _power(w: _Writer, node, args: list[str]) -> str:
    """The expression of :func:`~derivaudit.core.ball_steps.power_step`."""
    exponent = special_exponent(node.exp)
    if exponent is None:
        return f"{args[0]} ** {args[1]}"
    (base,) = args
    if exponent == sp.S.Half:
        return f"{base}.sqrt()"
    if exponent == -sp.S.Half:
        return f"{base}.rsqrt()"
    n = int(exponent)
    if n == -1:
        return f"1 / {base}"
    power = w.constant("P", int_power)
    if n < 0:
        return f"1 / {power}({base}, {w.constant('k', -n)})"
    return f"{power}({base}, {w.constant('k', n)})"
