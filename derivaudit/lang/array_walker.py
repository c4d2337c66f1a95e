"""The walk over an array formula: the scalar walker with NumPy semantics for operators, names and calls.

:class:`ArrayBuilder` subclasses :class:`~derivaudit.lang.walker.FormulaBuilder`:
the safety layer (whitelist of syntax, identifiers, exact numbers, depth and
size limits) is the scalar walker's, and only the hooks change: operators act
on :mod:`~derivaudit.lang.arrays` values, names come from the model's
environment, and calls go to :data:`~derivaudit.lang.array_functions.ARRAY_FUNCTIONS`
or apply a scalar function entry by entry.
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Mapping

import sympy as sp

from derivaudit.errors import LimitExceeded, ParseError, ShapeError, UnsafeExpressionError
from derivaudit.lang.array_functions import ARRAY_FUNCTIONS
from derivaudit.lang.arrays import (MAX_ENTRIES, MAX_TERMS, Array, Value, binary, elementwise, entries, matmul,
                                    matmul_terms, nary, operands, shape_of)
from derivaudit.lang.functions import CONSTANTS, FUNCTIONS
from derivaudit.lang.source import prepare
from derivaudit.lang.walker import FormulaBuilder
from derivaudit.limits import DEFAULT_LIMITS, Limits

__all__ = ["ArrayBuilder", "parse_array_formula", "formula_names"]


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
        # '.T' is the one attribute of the language; every other one is refused by the base class
        if isinstance(node, ast.Attribute) and node.attr == "T" and isinstance(node.ctx, ast.Load):
            value = self.visit(node.value, depth + 1)
            return value.T if isinstance(value, Array) else value
        try:
            return super().visit(node, depth)
        except ShapeError as exc:
            if " at column " in str(exc) or " at line " in str(exc):
                raise
            raise self.shape_error(str(exc), node) from None

    # -- operators -----------------------------------------------------------
    def add(self, terms):
        return operands("'+'/'-'", nary, sp.Add, terms)

    def multiply(self, factors):
        return operands("'*'/'/'", nary, sp.Mul, factors)

    def sum_chain(self, node: ast.BinOp, depth: int):
        value = super().sum_chain(node, depth)
        self.charge(math.prod(shape_of(value)), node)
        return value

    def product_chain(self, node: ast.BinOp, depth: int):
        value = super().product_chain(node, depth)
        self.charge(math.prod(shape_of(value)), node)
        return value

    def reciprocal(self, value):
        return elementwise(lambda v: 1 / v, value)

    def power(self, base, exponent, node: ast.AST):
        self.charge(max(math.prod(shape_of(base)), math.prod(shape_of(exponent))), node)
        return binary(lambda b, x: self.scalar_power(b, x, node), base, exponent)

    def other_operator(self, node: ast.BinOp, depth: int):
        if isinstance(node.op, ast.MatMult):
            left = self.visit(node.left, depth + 1)
            right = self.visit(node.right, depth + 1)
            self.charge(matmul_terms(shape_of(left), shape_of(right)), node)
            return matmul(left, right)
        return super().other_operator(node, depth)

    # -- names and calls -------------------------------------------------------
    def name(self, ident: str, node: ast.Name):
        if ident in self.env:
            return self.env[ident]
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in FUNCTIONS or ident in ARRAY_FUNCTIONS:
            raise self.error(f"'{ident}' is a function; call it as {ident}(...)", node)
        close = difflib.get_close_matches(ident, list(self.env), n=1)
        raise self.error(f"unknown name '{ident}'", node,
                         hint=f"did you mean '{close[0]}'?" if close else
                         "declare it in [shapes] or define it before use")

    def call(self, node: ast.Call, depth: int):
        fname = node.func.id if isinstance(node.func, ast.Name) else None
        keywords = self.keyword_values(node, fname)
        # keywords are checked above; the base class looks the function up and checks the name
        plain = ast.copy_location(ast.Call(func=node.func, args=node.args, keywords=[]), node)
        if fname in ARRAY_FUNCTIONS:
            spec, fname = self.function(plain, ARRAY_FUNCTIONS)
            if fname in ("max", "min"):
                self.check_max_min(fname, node)
            if spec.shape_args:
                args = self.shape_argument(node, fname)
            else:
                self.check_arity(spec, fname, node)
                args = [self.visit(arg, depth + 1) for arg in node.args]
            self.charge(sum(math.prod(shape_of(a)) for a in args if not isinstance(a, int)), node)
            try:
                return spec.build(self, node, args, keywords)
            except ShapeError as exc:
                raise self.shape_error(str(exc), node) from None
        spec, fname = self.function(plain)
        self.check_arity(spec, fname, node)
        args = [self.visit(arg, depth + 1) for arg in node.args]
        self.charge(max(math.prod(shape_of(a)) for a in args), node)
        if len(args) == 1:
            return elementwise(spec.build, args[0])
        return binary(spec.build, *args)

    def check_max_min(self, fname: str, node: ast.Call) -> None:
        """``max(a, b)`` is elementwise only without keywords and with a second operand that is no literal."""
        if len(node.args) != 2:
            return
        if node.keywords:
            raise self.error(f"{fname}() takes 1 positional argument with keywords, got 2", node)
        second = node.args[1]
        if isinstance(second, ast.Constant) or (isinstance(second, ast.UnaryOp)
                                                and isinstance(second.operand, ast.Constant)):
            # NumPy reads max(x, 1) as axis=1, the scalar language as max of x and 1
            raise self.error(f"{fname}(x, N) is ambiguous; write {fname}(x, axis=N) to "
                             f"reduce, or {fname}imum(x, N) for the elementwise "
                             f"{fname}imum", node)

    def keyword_values(self, node: ast.Call, fname: str | None) -> dict:
        """The literal keyword arguments of ``node``, checked against the function's."""
        allowed = ARRAY_FUNCTIONS[fname].keywords if fname in ARRAY_FUNCTIONS else {}
        values = dict(allowed)
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error("'**' arguments are not allowed in a formula", kw.value,
                                 UnsafeExpressionError)
            if kw.arg not in allowed:
                takes = ", ".join(f"{k}=" for k in allowed) or "no keyword arguments"
                raise self.error(f"{fname}() got an unexpected keyword '{kw.arg}' "
                                 f"(it takes {takes})", kw.value)
            values[kw.arg] = self.literal(kw.value, f"{kw.arg}=")
        for key in ("keepdims",):
            if key in values and not isinstance(values[key], bool):
                raise self.error(f"{key}= must be True or False", node)
        if "axis" in values and (isinstance(values["axis"], bool) or
                                 not (values["axis"] is None or isinstance(values["axis"], int))):
            raise self.error("axis= must be a whole number or None", node)
        return values

    def literal(self, node: ast.AST, what: str):
        """A keyword value or shape: an int (possibly negative), True, False or None."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self.literal(node.operand, what)
            if isinstance(value, int) and not isinstance(value, bool):
                return -value
        elif isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (bool, int))):
            if isinstance(node.value, int) and abs(node.value) > MAX_ENTRIES:
                raise self.limit(f"{what} value {node.value} is too large", node)
            return node.value
        raise self.error(f"{what} must be a literal whole number, True, False or None", node)

    def shape_argument(self, node: ast.Call, fname: str) -> tuple[int, ...]:
        items = node.args
        if len(items) == 1 and isinstance(items[0], ast.Tuple):
            items = items[0].elts
        shape = tuple(self.literal(item, f"{fname}() shape") for item in items)
        if not 1 <= len(shape) <= 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                                           for n in shape):
            raise self.error(f"{fname}() needs a shape of one or two positive whole numbers, "
                             f"e.g. {fname}(3, 1) or {fname}((3, 1))", node)
        if math.prod(shape) > MAX_ENTRIES:
            raise self.limit(f"{fname}() shape {shape} has more than {MAX_ENTRIES} entries", node)
        return shape


def parse_array_formula(text: str, env: Mapping[str, Value], *,
                        limits: Limits = DEFAULT_LIMITS, keepdims: bool = False) -> Value:
    """Parse an array formula whose names are the keys of ``env``.

    Returns a sympy scalar or an :class:`Array`.  Raises
    :class:`~derivaudit.errors.ParseError` (unknown names, syntax; with the
    column), :class:`~derivaudit.errors.ShapeError` (operands that do not
    fit, naming both shapes) and the parser's safety errors.  ``keepdims=True``
    makes every reduction over an axis keep it.
    """
    source, tree = prepare(text, limits)
    try:
        value = ArrayBuilder(source, limits, env, keepdims).build(tree)
    except RecursionError:
        raise LimitExceeded("formula is too deeply nested to build") from None
    if any(v.has(sp.zoo, sp.nan, sp.oo, -sp.oo) for v in entries(value)):
        raise ParseError("formula is undefined (it divides by zero)", source=text)
    return value


def formula_names(text: str, *, limits: Limits = DEFAULT_LIMITS) -> set[str]:
    """The names a formula refers to (not the functions it calls): its dependencies."""
    _, tree = prepare(text, limits)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called
            and n.id not in CONSTANTS}
