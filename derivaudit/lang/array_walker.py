"""The walk over an array formula: the scalar walker with NumPy semantics for operators, names, calls and indexing.

:class:`ArrayBuilder` subclasses :class:`~derivaudit.lang.walker.FormulaBuilder`:
the safety layer (whitelist of syntax, identifiers, exact numbers, depth and
size limits) is the scalar walker's, and only the hooks change.  Operators
act on :mod:`~derivaudit.lang.arrays` values (``@`` is NumPy's matmul,
comparisons give 0/1 arrays, ``& | ~`` combine them); names come from the
model's environment; calls go to
:data:`~derivaudit.lang.array_functions.ARRAY_FUNCTIONS` (``np.``/``numpy.``
optional, ``np.linalg.norm``, ``scipy.special.NAME`` for :data:`SCIPY_SPECIAL`, methods on any expression) or apply a scalar
function entry by entry; subscripts index with NumPy's rules (static lists
of integers too).  Attributes are read from the syntax tree only — a name
after a dot is looked up in the fixed tables, never on a Python object; the
read-only ``.shape``, ``.size`` and ``.ndim`` (and ``len(x)``) are the
static sizes of the value, known when the formula is read.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping

import numpy as np
import sympy as sp

from derivaudit.budgets import time_budget
from derivaudit.errors import LimitExceeded, ParseError, ShapeError, UnsafeExpressionError
from derivaudit.lang import array_ops as ops
from derivaudit.lang.array_args import ArgumentReader
from derivaudit.lang.array_functions import ARRAY_FUNCTIONS, METHOD_ONLY, METHODS, REFUSED
from derivaudit.lang.array_reductions import cumsum_terms
from derivaudit.lang.arrays import (MAX_TERMS, Array, Sizes, Value, binary, compare, elementwise, entries,
                                    is_boolean, nary, operands, shape_of, size_of)
from derivaudit.lang.functions import ALSO_VARIABLES, CONSTANTS, FUNCTIONS
from derivaudit.lang.hints import closest_name, unknown_function_hint
from derivaudit.lang.source import prepare
from derivaudit.lang.walker import FormulaBuilder
from derivaudit.limits import DEFAULT_LIMITS, Limits

__all__ = ["ArrayBuilder", "parse_array_formula", "formula_names", "RESERVED_NAMES", "SCIPY_SPECIAL", "spellings"]

#: names that mean NumPy (``np.exp``) or SciPy (``scipy.special.erfc``) itself, or a dtype
#: (``astype(float)``): never variables
RESERVED_NAMES = ("np", "numpy", "float", "scipy")
_MODULES = ("np", "numpy")
_NUMPY_CONSTANTS = {"pi": sp.pi, "e": sp.E}
#: NumPy's names for scalar functions the language spells otherwise
_ALIASES = {"absolute": "abs"}
#: the functions of scipy.special the language has (same meaning, same arguments): scipy.special.NAME(...)
SCIPY_SPECIAL = frozenset({"erf", "erfc", "erfinv", "gamma", "gammaln", "digamma", "psi", "polygamma", "zeta",
                           "xlogy", "expit", "logit", "log1p", "expm1", "exp2", "cbrt", "softmax", "log_softmax",
                           "logsumexp"})
#: the index None stands for
_NEWAXIS = object()
#: read-only attributes of every value: its static sizes
_SIZE_ATTRIBUTES = ("shape", "size", "ndim")


def spellings() -> list[str]:
    """Every function name a formula may call (for suggestions of the nearest one)."""
    return sorted(set(ARRAY_FUNCTIONS) | set(FUNCTIONS) | set(_ALIASES))


class ArrayBuilder(FormulaBuilder):
    """Builds array values from a whitelisted syntax tree.

    ``env`` maps every name a formula may use to its value (an :class:`Array`
    or a sympy scalar).  Unknown names are errors: in an audit every name is
    declared.
    """

    def __init__(self, source, limits: Limits, env: Mapping[str, Value], keepdims: bool = False):
        super().__init__(source, limits)
        self.env = env
        #: reduce with keepdims=True whenever an axis is given (a diagnosis' "what if")
        self.force_keepdims = keepdims
        #: scalar operations built so far (bounded by MAX_TERMS)
        self.work = 0
        #: the function being applied, for its error messages
        self.current_function = ""
        self.arguments = ArgumentReader(self)
        #: an index is being read (where np.newaxis is allowed)
        self.indexing = False
        #: the call being built, for the errors of its function
        self.current_call: ast.AST | None = None
        #: ids of the nodes whose value may be a shape (x.shape): indexed, measured or passed as a shape
        self.sizes_wanted: set[int] = set()

    def charge(self, terms: int, node: ast.AST) -> None:
        """Count ``terms`` scalar operations against :data:`MAX_TERMS`, before they are built."""
        self.work += terms
        if self.work > MAX_TERMS:
            raise self.limit(f"the formula builds over {MAX_TERMS} scalar operations (an audit "
                             "instantiates every entry); use smaller shapes", node)

    def shape_error(self, message: str, node: ast.AST) -> ShapeError:
        line, column = self.source.position(node.lineno, node.col_offset)
        where = f"column {column}" if "\n" not in self.source.original else f"line {line}, column {column}"
        return ShapeError(f"{message} at {where}")

    def visit(self, node: ast.AST, depth: int):
        try:
            value = super().visit(node, depth)
        except ShapeError as exc:
            if " at column " in str(exc) or " at line " in str(exc):
                raise
            raise self.shape_error(str(exc), node) from None
        if value is _NEWAXIS and not self.indexing:
            raise self.error("np.newaxis is an index; use it inside [...], e.g. x[:, np.newaxis]", node)
        if isinstance(value, Sizes) and id(node) not in self.sizes_wanted:
            shown = ast.unparse(node)
            raise self.error(f"'{shown}' is a shape (a tuple of sizes), not a value", node,
                             hint=f"use one size, e.g. {shown}[0]" if value else "it is () for a scalar")
        return value

    def value_or_sizes(self, node: ast.AST, depth: int):
        """The value of ``node``, which may be a shape (:class:`Sizes`): where NumPy takes a tuple."""
        self.sizes_wanted.add(id(node))
        try:
            return self.visit(node, depth + 1)
        finally:
            self.sizes_wanted.discard(id(node))

    def dispatch(self, node: ast.AST, depth: int):
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            return self.logical("~", [self.visit(node.operand, depth + 1)], node)
        return super().dispatch(node, depth)

    def other_node(self, node: ast.AST, depth: int):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            return self.attribute(node, depth)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            return self.subscript(node, depth)
        if isinstance(node, ast.Compare):
            return self.comparison(node, depth)
        if isinstance(node, ast.BoolOp):
            word = "&" if isinstance(node.op, ast.And) else "|"
            raise self.error(f"'{'and' if word == '&' else 'or'}' is not supported on arrays", node,
                             hint=f"combine comparisons with '{word}', e.g. (a > 0) {word} (b > 0)")
        return super().other_node(node, depth)

    # -- operators -----------------------------------------------------------
    def add(self, terms):
        if len(terms) > 1 and all(is_boolean(t) for t in terms):
            # NumPy adds bool arrays as a logical or
            return self.logical_chain("|", terms)
        return operands("'+'/'-'", nary, sp.Add, terms)

    def multiply(self, factors):
        if len(factors) > 1 and all(is_boolean(f) for f in factors):
            return self.logical_chain("&", factors)
        return operands("'*'/'/'", nary, sp.Mul, factors)

    def logical_chain(self, word: str, values: list):
        result = values[0]
        for value in values[1:]:
            result = self.logical(word, [result, value], None)
        return result

    def sum_chain(self, node: ast.BinOp, depth: int):
        value = super().sum_chain(node, depth)
        self.charge(size_of(value), node)
        return value

    def product_chain(self, node: ast.BinOp, depth: int):
        value = super().product_chain(node, depth)
        self.charge(size_of(value), node)
        return value

    def reciprocal(self, value):
        return elementwise(lambda v: 1 / v, value)

    def power(self, base, exponent, node: ast.AST):
        self.charge(max(size_of(base), size_of(exponent)), node)
        return binary(lambda b, x: self.scalar_power(b, x, node), base, exponent)

    def other_operator(self, node: ast.BinOp, depth: int):
        words = {ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^"}
        word = words.get(type(node.op))
        if word is None:
            return super().other_operator(node, depth)
        left = self.visit(node.left, depth + 1)
        right = self.visit(node.right, depth + 1)
        if word != "@":
            return self.logical(word, [left, right], node)
        self.charge(ops.matmul_terms(shape_of(left), shape_of(right)), node)
        return ops.matmul(left, right)

    def logical(self, word: str, values: list, node: ast.AST):
        """``& | ^ ~`` of comparisons (0/1 values), as NumPy's bool arrays combine."""
        if not all(is_boolean(v) or (isinstance(v, sp.Basic) and v in (0, 1)) for v in values):
            raise self.error(f"'{word}' combines comparisons only, e.g. (a > 0) {word} (b > 0)"
                             if word != "~" else "'~' negates a comparison only, e.g. ~(a > 0)", node)
        if node is not None:
            self.charge(max(size_of(v) for v in values), node)
        if word == "~":
            result = elementwise(lambda a: 1 - a, values[0])
        else:
            rule = {"&": lambda a, b: a * b, "|": lambda a, b: a + b - a * b,
                    "^": lambda a, b: a + b - 2 * a * b}[word]
            result = operands(f"'{word}'", binary, rule, *values)
        return Array(result.data, boolean=True) if isinstance(result, Array) else result

    def comparison(self, node: ast.Compare, depth: int):
        word, left, right = self.comparison_operands(node, depth, "write (a < b) & (b < c)")
        self.charge(max(size_of(left), size_of(right)), node)
        return compare(word, left, right)

    # -- names and attributes --------------------------------------------------
    def name(self, ident: str, node: ast.Name):
        if ident in self.env:
            return self.env[ident]
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if (ident in FUNCTIONS and ident not in ALSO_VARIABLES) or ident in ARRAY_FUNCTIONS:
            raise self.error(f"'{ident}' is a function; call it as {ident}(...)", node)
        if ident in _MODULES:
            raise self.error(f"'{ident}' is NumPy itself; call its functions, e.g. {ident}.exp(x)", node)
        close = closest_name(ident, self.env)
        raise self.error(f"unknown name '{ident}'", node,
                         hint=f"did you mean '{close}'?" if close else
                         "declare it in [shapes] or [data], or define it before use")

    def attribute(self, node: ast.Attribute, depth: int):
        if node.attr == "T":
            value = self.visit(node.value, depth + 1)
            return ops.transpose(value)
        if self.is_module(node.value):
            if node.attr == "newaxis":
                return _NEWAXIS
            if node.attr in _NUMPY_CONSTANTS:
                return _NUMPY_CONSTANTS[node.attr]
        elif node.attr in _SIZE_ATTRIBUTES:
            shape = shape_of(self.visit(node.value, depth + 1))
            if node.attr == "shape":
                return Sizes(shape)
            return sp.Integer(math.prod(shape) if node.attr == "size" else len(shape))
        shown = ast.unparse(node)
        if self.is_module(node.value) and node.attr in spellings():
            hint = f"call it: {shown}(...)"
        else:
            close = closest_name(node.attr, ["T", *_SIZE_ATTRIBUTES, *METHODS])
            hint = (f"did you mean .{close}?" if close else
                    "arrays have .T, .shape, .size, .ndim and the methods " +
                    ", ".join(f".{m}()" for m in METHODS))
        raise self.error(f"attribute access is not allowed in a formula ('{shown}' is not part of "
                         "the array language)", node, UnsafeExpressionError, hint=hint)

    def is_scipy_special(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "special" and \
            isinstance(node.value, ast.Name) and node.value.id == "scipy" and "scipy" not in self.env

    def is_module(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id in _MODULES and node.id not in self.env

    # -- calls -------------------------------------------------------------------
    def callee(self, node: ast.Call, depth: int):
        """``(name, receiver, style)`` of a call: ``exp(x)``, ``np.exp(x)`` or ``x.sum()``."""
        func = node.func
        if isinstance(func, ast.Name):
            return self.identifier(func), None, "bare"
        if isinstance(func, ast.Attribute):
            if self.is_module(func.value):
                return _ALIASES.get(func.attr, func.attr), None, "numpy"
            if self.is_scipy_special(func.value):
                if func.attr not in SCIPY_SPECIAL:
                    raise self.error(f"unknown function 'scipy.special.{func.attr}'", func,
                                     hint="scipy.special functions in the language: " + ", ".join(sorted(SCIPY_SPECIAL)))
                return func.attr, None, "scipy"
            if isinstance(func.value, ast.Attribute) and func.value.attr == "linalg" and \
                    self.is_module(func.value.value):
                return f"linalg.{func.attr}", None, "numpy"
            if func.attr in METHODS:
                return func.attr, self.visit(func.value, depth + 1), "method"
            shown = ast.unparse(func)
            if func.attr in REFUSED:
                reason, hint = REFUSED[func.attr]
                raise self.error(f"'{shown}()' is not part of the array language: {reason}", func, hint=hint)
            close = closest_name(func.attr, METHODS)
            raise self.error(f"method '{shown}()' is not part of the array language", func,
                             UnsafeExpressionError,
                             hint=f"did you mean .{close}()?" if close else
                             "methods are " + ", ".join(f".{m}()" for m in METHODS))
        raise self.error("only named functions can be called", func, UnsafeExpressionError,
                         hint="a product needs *: write (a)*(b), not (a)(b)")

    def call(self, node: ast.Call, depth: int):
        fname, receiver, style = self.callee(node, depth)
        shown = {"numpy": f"np.{fname}", "scipy": f"scipy.special.{fname}"}.get(style, fname)
        if fname in ("max", "min") and style == "bare" and len(node.args) == 2:
            return self.elementwise_max_min(fname, node, depth)
        if fname == "len" and style == "bare":
            return self.length(node, depth)
        if fname in REFUSED:
            reason, hint = REFUSED[fname]
            raise self.error(f"'{shown}' is not part of the array language: {reason}", node.func, hint=hint)
        if fname in METHOD_ONLY and style != "method":
            raise self.error(f"'{shown}' is a method only (NumPy has no np.{fname}): write x.{fname}()",
                             node.func, hint="or np.ravel(x)")
        if fname in ARRAY_FUNCTIONS:
            fn = ARRAY_FUNCTIONS[fname]
            args = self.arguments.bind(fn, shown, node, depth, receiver)
            self.charge(self.cost(fname, args), node)
            self.current_function = fname
            self.current_call = node
            try:
                return fn.build(args, self)
            except ShapeError as exc:
                raise self.shape_error(str(exc), node) from None
        if fname in FUNCTIONS:
            return self.scalar_call(fname, shown, node, depth)
        if fname.startswith("linalg."):
            hint = "np.linalg.norm is the one function of np.linalg in the array language"
        elif f"linalg.{fname}" in ARRAY_FUNCTIONS:
            hint = f"write np.linalg.{fname}(...)"
        else:
            hint = unknown_function_hint(fname, spellings())
        raise self.error(f"unknown function '{shown}'", node.func, hint=hint)

    def length(self, node: ast.Call, depth: int):
        """``len(x)``: the length of the first axis (of a shape: its number of sizes), a static integer."""
        if len(node.args) != 1 or node.keywords:
            raise self.error("len() takes exactly one argument", node)
        value = self.value_or_sizes(node.args[0], depth)
        if isinstance(value, Sizes):
            return sp.Integer(len(value))
        shape = shape_of(value)
        if not shape:
            raise self.error("len() of a scalar: it has no first axis", node, hint="x.size counts the entries")
        return sp.Integer(shape[0])

    def cost(self, fname: str, args: dict) -> int:
        if fname == "einsum":
            return ops.einsum_terms(args["subscripts"], [shape_of(v) for v in args["operands"]])
        if fname == "cumsum":
            return cumsum_terms(shape_of(args["a"]), args["axis"])
        if fname in ("dot", "matmul"):
            values = [v for v in args.values() if not isinstance(v, (int, tuple, str, type(None)))]
            return ops.matmul_terms(*(shape_of(v) for v in values[:2])) if len(values) == 2 else 0
        if fname in ("ones", "zeros", "full", "reshape") and isinstance(args.get("shape", args.get("newshape")), tuple):
            return math.prod(abs(n) for n in args.get("shape", args.get("newshape")))
        return sum(size_of(v) for v in args.values() if isinstance(v, (Array, sp.Basic)))

    def scalar_call(self, fname: str, shown: str, node: ast.Call, depth: int):
        """A scalar function of the formula language, applied entry by entry."""
        spec = FUNCTIONS[fname]
        if node.keywords:
            kw = node.keywords[0]
            if kw.arg is None:
                raise self.error("'**' arguments are not allowed in a formula", kw.value, UnsafeExpressionError)
            raise self.error(f"{shown}() got an unexpected keyword '{kw.arg}' (it takes no keyword "
                             f"arguments: {fname} applies entry by entry)", kw.value)
        self.check_arity(spec, shown, node)
        args = [self.visit(arg, depth + 1) for arg in node.args]
        self.charge(max(size_of(a) for a in args), node)
        if len(args) == 1:
            return elementwise(spec.build, args[0])
        return binary(spec.build, *args)

    def elementwise_max_min(self, fname: str, node: ast.Call, depth: int):
        """``max(a, b)`` of the scalar language: the elementwise maximum (no keywords, no literal N)."""
        second = node.args[1]
        if node.keywords:
            raise self.error(f"{fname}() takes 1 positional argument with keywords, got 2", node)
        if isinstance(second, ast.Constant) or (isinstance(second, ast.UnaryOp)
                                                and isinstance(second.operand, ast.Constant)):
            # NumPy reads max(x, 1) as axis=1, the scalar language as max of x and 1
            raise self.error(f"{fname}(x, N) is ambiguous; write {fname}(x, axis=N) to "
                             f"reduce, or {fname}imum(x, N) for the elementwise "
                             f"{fname}imum", node)
        a, b = (self.visit(arg, depth + 1) for arg in node.args)
        self.charge(max(size_of(a), size_of(b)), node)
        return binary(sp.Max if fname == "max" else sp.Min, a, b)

    # -- indexing ------------------------------------------------------------------
    def subscript(self, node: ast.Subscript, depth: int):
        value = self.value_or_sizes(node.value, depth)
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        key = tuple(self.index_item(item, depth) for item in items)
        if isinstance(value, Sizes):
            return self.size_index(value, key, node)
        result = ops.index(value, key)
        self.charge(size_of(result), node)
        return result

    def index_item(self, item: ast.AST, depth: int):
        """One entry of an index: an int, a static slice, None, ..., or an int/bool array of known values."""
        what = "an index"
        if isinstance(item, ast.Slice):
            return slice(*(None if part is None else self.arguments.static_int(part, "a slice bound", depth)
                           for part in (item.lower, item.upper, item.step)))
        if isinstance(item, ast.Constant) and (item.value is None or item.value is Ellipsis):
            return item.value
        if isinstance(item, ast.List):
            return self.index_list(item, depth)
        self.indexing = True
        try:
            value = self.visit(item, depth + 1)
        finally:
            self.indexing = False
        if value is _NEWAXIS:
            return None
        if isinstance(value, Array):
            known = all(isinstance(v, sp.Basic) and v.is_Integer for v in value.flat)
            if known and value.boolean:
                return np.array([bool(v) for v in value.flat], dtype=bool).reshape(value.shape)
            if known:
                return np.array([int(v) for v in value.flat], dtype=np.intp).reshape(value.shape)
            raise self.error(f"{what} must be known numbers: integers from [data] (class labels), "
                             "np.arange(...), or a mask of [data] values; this one depends on the model's "
                             "variables", item, hint="for a mask of model values multiply by it: (z > 0) * x")
        if isinstance(value, sp.Basic) and value.is_Integer:
            return int(value)
        raise self.error(f"{what} must be a whole number, a slice, None, ... or an integer array, "
                         f"not '{value}'", item)

    def index_list(self, item: ast.List, depth: int) -> np.ndarray:
        """A literal list in an index, ``x[:, [0, 2]]``: whole numbers (or True/False, a mask), nested or not."""
        def read(node):
            if isinstance(node, ast.List):
                return [read(e) for e in node.elts]
            if isinstance(node, ast.Constant) and isinstance(node.value, bool):
                return node.value
            return self.arguments.static_int(node, "an entry of an index list", depth)

        values = read(item)
        flat = list(np.asarray(values, dtype=object).reshape(-1)) if values else []
        kinds = {type(v) for v in flat}
        if not flat or len(kinds) != 1 or list in kinds:
            raise self.error("an index list must be a non-empty, rectangular list of whole numbers "
                             "(or of True/False)", item, hint="e.g. x[:, [0, 2]]")
        return np.array(values, dtype=bool if kinds == {bool} else np.intp)

    def size_index(self, sizes: Sizes, key: tuple, node: ast.Subscript):
        """``x.shape[0]`` (a static integer) or ``x.shape[1:]`` (a shape)."""
        if len(key) != 1 or not isinstance(key[0], (int, slice)):
            raise self.error("a shape is indexed by one whole number or a slice, e.g. x.shape[0]", node)
        if isinstance(key[0], slice):
            return Sizes(sizes[key[0]])
        if not -len(sizes) <= key[0] < len(sizes):
            raise self.shape_error(f"index {key[0]} is out of range for a shape of {len(sizes)} "
                                   f"size{'s' if len(sizes) != 1 else ''} {tuple(sizes)}", node)
        return sp.Integer(sizes[key[0]])


def parse_array_formula(text: str, env: Mapping[str, Value], *,
                        limits: Limits = DEFAULT_LIMITS, keepdims: bool = False) -> Value:
    """Parse an array formula whose names are the keys of ``env``.

    Returns a sympy scalar or an :class:`~derivaudit.lang.arrays.Array`.
    Raises :class:`~derivaudit.errors.ParseError` (unknown names, syntax,
    unsupported constructs; with the column and the nearest supported
    spelling), :class:`~derivaudit.errors.ShapeError` (operands that do not
    fit, naming both shapes) and the parser's safety errors.
    ``keepdims=True`` makes every reduction over an axis keep it.

    >>> from derivaudit.lang.arrays import symbol_array
    >>> env = {"x": symbol_array("x", (2, 3)), "y": Array(np.array([sp.Integer(2), sp.Integer(0)]))}
    >>> parse_array_formula("np.exp(x)[np.arange(2), y]", env)
    Array(shape=(2,), [exp(x[0,2]), exp(x[1,0])])
    >>> parse_array_formula("(x > 0).sum(axis=0)", env).shape
    (3,)
    """
    source, tree = prepare(text, limits)
    try:
        with time_budget(limits.symbolic_seconds, "building the formula", "symbolic_seconds"):
            value = ArrayBuilder(source, limits, env, keepdims).build(tree)
    except RecursionError:
        raise LimitExceeded("formula is too deeply nested to build") from None
    if value is _NEWAXIS:
        raise ParseError("np.newaxis is an index, not a value", source=text)
    if any(v.has(sp.zoo, sp.nan, sp.oo, -sp.oo) for v in entries(value)):
        raise ParseError("formula is undefined (it divides by zero)", source=text)
    return value


def formula_names(text: str, *, limits: Limits = DEFAULT_LIMITS) -> set[str]:
    """The names a formula refers to (not the functions it calls, nor ``np``): its dependencies."""
    _, tree = prepare(text, limits)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called
            and n.id not in CONSTANTS and n.id not in RESERVED_NAMES}
