"""Reading the arguments of an array-language call: binding by position and keyword, static values.

A call binds its arguments to the function's :class:`~derivaudit.lang.array_functions.Param`
list the way Python binds NumPy's (position or keyword, NumPy's order), and
reads each by its kind: formulas are walked; axes, shapes and other integers
are *static* — literals, names of integer ``[data]``, or sizes read from a
value (``x.shape[0]``, ``x.shape`` where NumPy takes a tuple) — because they
decide the shape of the result.
"""

from __future__ import annotations

import ast
import math

import sympy as sp

from derivaudit.errors import UnsafeExpressionError
from derivaudit.lang.array_functions import REQUIRED, ArrayFunction
from derivaudit.lang.arrays import MAX_ENTRIES, Array, Sizes
from derivaudit.lang.hints import closest_name

__all__ = ["ArgumentReader"]


class ArgumentReader:
    """Binds and reads a call's arguments for an :class:`~derivaudit.lang.array_walker.ArrayBuilder`."""

    def __init__(self, walker):
        self.walker = walker

    def error(self, message: str, node: ast.AST, cls=None, hint: str = ""):
        return self.walker.error(message, node, **({"cls": cls} if cls else {}), hint=hint)

    # -- binding ----------------------------------------------------------------------
    def bind(self, fn: ArrayFunction, fname: str, node: ast.Call, depth: int, receiver=None) -> dict:
        """The call's arguments by parameter name, each read by its kind."""
        params = list(fn.params)
        given: dict[str, ast.AST] = {}
        values: dict = {}
        if receiver is not None:
            values[params[0].name] = receiver
            params = params[1:]
        positional = list(node.args)
        for arg in positional:
            if isinstance(arg, ast.Starred):
                raise self.error("starred argument is not allowed in a formula", arg, UnsafeExpressionError)
        slots = [p for p in params if p.positional]
        if fn.rest and len(positional) > len(slots) and fn.rest in [p.name for p in slots]:
            # x.reshape(2, -1), ones(2, 3): the trailing integers are one tuple
            at = [p.name for p in slots].index(fn.rest)
            tail = positional[at:]
            positional = positional[:at] + [ast.copy_location(ast.Tuple(elts=tail, ctx=ast.Load()), tail[0])]
        varargs = []
        for k, arg in enumerate(positional):
            if k < len(slots):
                given[slots[k].name] = arg
            elif fn.varargs:
                varargs.append(arg)
            else:
                raise self.error(f"{fname}() takes at most {len(slots)} positional argument"
                                 f"{'s' if len(slots) != 1 else ''} ({fn.describe()}), got {len(positional)}",
                                 node)
        self.bind_keywords(fn, fname, node, params, given)
        for p in params:
            if p.name in given:
                values[p.name] = self.read(given[p.name], p.kind, fname, p.name, depth)
            elif p.default is REQUIRED:
                raise self.error(f"{fname}() needs its argument '{p.name}' ({fname}({fn.describe()}))", node)
            else:
                values[p.name] = p.default
        if fn.varargs:
            values[fn.varargs] = [self.walker.visit(arg, depth + 1) for arg in varargs]
        return values

    def bind_keywords(self, fn: ArrayFunction, fname: str, node: ast.Call, params, given: dict) -> None:
        names = [p.name for p in params]
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error("'**' arguments are not allowed in a formula", kw.value, UnsafeExpressionError)
            if kw.arg not in names:
                takes = ", ".join(f"{p.name}=" for p in params if p.default is not REQUIRED)
                close = closest_name(kw.arg, names)
                raise self.error(f"{fname}() got an unexpected keyword '{kw.arg}' "
                                 f"(it takes {takes or 'no keyword arguments'})", kw.value,
                                 hint=f"did you mean {close}=?" if close else "")
            if kw.arg in given:
                raise self.error(f"{fname}() got two values for '{kw.arg}'", kw.value)
            given[kw.arg] = kw.value

    # -- reading by kind ----------------------------------------------------------------
    def read(self, node: ast.AST, kind: str, fname: str, pname: str, depth: int):
        what = f"{fname}() {pname}="
        if kind == "value":
            return self.walker.visit(node, depth + 1)
        if kind == "opt_value":
            is_none = isinstance(node, ast.Constant) and node.value is None
            return None if is_none else self.walker.visit(node, depth + 1)
        if kind == "nested":
            # np.array's object: nested lists and tuples of formulas, kept as nested Python lists
            if isinstance(node, (ast.Tuple, ast.List)):
                return [self.read(item, kind, fname, pname, depth + 1) for item in node.elts]
            return self.walker.visit(node, depth + 1)
        if kind == "values":
            if not isinstance(node, (ast.Tuple, ast.List)):
                raise self.error(f"{what} takes a list of arrays, e.g. {fname}([a, b])", node)
            return [self.walker.visit(item, depth + 1) for item in node.elts]
        if kind == "bool":
            if isinstance(node, ast.Constant) and isinstance(node.value, bool):
                return node.value
            raise self.error(f"{pname}= must be True or False", node)
        if kind == "text":
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                return node.value
            raise self.error(f"{what} must be a string in quotes", node)
        if kind == "dtype":
            return self.dtype(node, fname)
        if kind == "ord":
            return self.order(node, what, depth)
        if kind in ("opt_int", "axis", "axes") and isinstance(node, ast.Constant) and node.value is None:
            return None
        if kind == "widths":
            return self.widths(node, what, depth)
        if kind in ("opt_int", "int"):
            return self.static_int(node, what, depth)
        # a shape, an axis or axes: a whole number or a tuple of them (written out, or a shape x.shape)
        if isinstance(node, (ast.Tuple, ast.List)):
            value = tuple(self.static_int(item, what, depth) for item in node.elts)
        else:
            value = self.static_ints(node, what, depth)
        if kind == "axes" and not isinstance(value, tuple):
            raise self.error(f"{what} must be a tuple of axes, e.g. (1, 0, 2)", node)
        if kind == "dims":
            shape = value if isinstance(value, tuple) else (value,)
            problem = self.check_shape(shape, fname)
            if problem:
                raise (self.walker.limit(problem, node) if "entries" in problem else self.error(problem, node))
            return shape
        return (value,) if kind == "shape" and not isinstance(value, tuple) else value

    def static_int(self, node: ast.AST, what: str, depth: int) -> int:
        """A whole number known from the text: a literal, or an expression of integer [data] such as N - 1."""
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            raise self.error(f"{what} must be a literal whole number (or integer [data]), not {node.value}", node)
        return self.whole(self.walker.visit(node, depth + 1), what, node)

    def static_ints(self, node: ast.AST, what: str, depth: int) -> int | tuple[int, ...]:
        """A whole number as :meth:`static_int` reads it, or the sizes of a shape (``x.shape``, ``x.shape[1:]``)."""
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return self.static_int(node, what, depth)
        value = self.walker.value_or_sizes(node, depth)
        return tuple(value) if isinstance(value, Sizes) else self.whole(value, what, node)

    def whole(self, value, what: str, node: ast.AST) -> int:
        """``value`` as a whole number within the limits, or the error naming ``what`` it must be."""
        if isinstance(value, sp.Basic) and value.is_Integer:
            n = int(value)
            if abs(n) > MAX_ENTRIES:
                raise self.walker.limit(f"{what} value {n} is too large", node)
            return n
        shown = "an array" if isinstance(value, Array) else f"'{value}'"
        raise self.error(f"{what} must be a literal whole number (or integer [data]), not {shown}", node)

    def order(self, node: ast.AST, what: str, depth: int):
        """A norm's ``ord``: None, a number, a string, or ``np.inf`` / ``-np.inf`` (as ``math.inf``)."""
        if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (int, float, str))):
            return node.value
        text = ast.unparse(node).replace("numpy.", "np.")
        if text in ("np.inf", "-np.inf"):
            return -math.inf if text.startswith("-") else math.inf
        return self.static_int(node, what, depth)

    def widths(self, node: ast.AST, what: str, depth: int):
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self.widths(item, what, depth) for item in node.elts)
        return self.static_int(node, what, depth)

    def dtype(self, node: ast.AST, fname: str) -> str:
        floats = ("float", "float64", "float32", "double")
        if isinstance(node, ast.Name) and node.id in floats or \
                isinstance(node, ast.Constant) and node.value in floats or \
                isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id in ("np", "numpy") and node.attr in floats:
            return "float"
        raise self.error(f"{fname}() supports float only (values are exact reals)", node,
                         hint="write .astype(float)")

    @staticmethod
    def check_shape(shape: tuple[int, ...], fname: str) -> str:
        """The problem with a constructor's ``shape``, or ''."""
        if any(n < 1 for n in shape):
            return f"{fname}() needs a shape of positive whole numbers, e.g. {fname}((3, 1)), not {shape}"
        if math.prod(shape) > MAX_ENTRIES:
            return f"{fname}() shape {shape} has more than {MAX_ENTRIES} entries"
        return ""
