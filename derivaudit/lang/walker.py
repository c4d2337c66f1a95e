"""The safe walk over a formula's syntax tree: whitelisted nodes become sympy objects.

:class:`FormulaBuilder` visits the tree Python's :mod:`ast` made of the
text, node by node, against a whitelist; sympy objects are built directly
from the nodes, so nothing reaches ``eval``, ``exec`` or ``sympify``.  The
rules for names, literals and powers are :class:`~derivaudit.lang.rules.SafetyRules`';
the array language (:mod:`derivaudit.lang.array_walker`) overrides the
operator, name and call hooks and keeps the walk.
"""

from __future__ import annotations

import ast

import sympy as sp

from derivaudit.errors import DerivauditError, UnsafeExpressionError
from derivaudit.lang.arrays import compare
from derivaudit.lang.functions import ALSO_VARIABLES, CONSTANTS, FUNCTIONS, make_symbol
from derivaudit.lang.hints import unknown_function_hint
from derivaudit.lang.rules import SafetyRules

__all__ = ["FormulaBuilder", "CODE_NODES", "NODE_WORDS", "OPERATOR_SYMBOLS", "COMPARE_WORDS"]

#: functions defined on part of the real line only: their typed domain is recorded
PARTIAL_FUNCTIONS = frozenset({"log", "log1p", "log2", "log10", "sqrt", "asin", "acos", "acosh", "atanh",
                               "arcsin", "arccos", "arccosh", "arctanh", "tan"})

#: the comparisons a formula may write, as the words of :func:`~derivaudit.lang.arrays.compare`
COMPARE_WORDS = {ast.Gt: ">", ast.Lt: "<", ast.GtE: ">=", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!="}

#: Syntax that only code needs.  Meeting one of these is reported as an
#: attempt to escape the formula language, not as a typo.
CODE_NODES = (
    ast.Attribute, ast.Subscript, ast.Lambda, ast.ListComp, ast.SetComp,
    ast.DictComp, ast.GeneratorExp, ast.NamedExpr, ast.Starred,
    ast.JoinedStr, ast.FormattedValue, ast.Await, ast.Yield, ast.YieldFrom,
    ast.Slice,
)

#: how errors name each kind of node
NODE_WORDS = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression",
    ast.NamedExpr: "assignment expression ':='", ast.Starred: "starred argument",
    ast.JoinedStr: "f-string", ast.FormattedValue: "f-string", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "slice",
    ast.Compare: "comparison", ast.BoolOp: "boolean operator", ast.IfExp: "conditional expression",
    ast.Tuple: "tuple", ast.List: "list", ast.Dict: "dict", ast.Set: "set",
}

#: how errors write each operator the language refuses
OPERATOR_SYMBOLS = {
    ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.Not: "not", ast.Invert: "~",
}


class FormulaBuilder(SafetyRules):
    """Walks a whitelisted Python syntax tree and builds a sympy expression.

    Subclasses (array formulas) override :meth:`call`, :meth:`name` and the
    operator hooks; the walk (depth limit, error wrapping, flat sums and
    products) lives here once, the safety rules in the base class.
    """

    # -- walking --------------------------------------------------------
    def build(self, tree: ast.Expression):
        #: the typed text's partial sub-formulas (log(z), sqrt(z), z**(-1), z**(3/2)) as built,
        #: before an outer node let sympy rewrite them away: exp(log(x)) is x only for x > 0
        self.typed_guards: list = []
        return self.visit(tree.body, 1)

    def note_guard(self, value) -> None:
        """Record a partial sub-formula whose domain the typed text carries (see :meth:`build`)."""
        guards = self.__dict__.get("typed_guards")
        if guards is not None and isinstance(value, sp.Expr) and value.free_symbols and value not in guards:
            guards.append(value)

    def visit(self, node: ast.AST, depth: int):
        """The value of ``node``; every failure leaves as a DerivauditError.

        sympy raises plain ValueError/TypeError/ArithmeticError when asked to
        build something meaningless from valid syntax (``max(sqrt(-1), 1)``
        compares a complex number); those become a ParseError pointing at the
        innermost node that failed.
        """
        if depth > self.limits.max_depth:
            raise self.limit(f"formula nested deeper than {self.limits.max_depth} levels", node)
        try:
            return self.dispatch(node, depth)
        except DerivauditError:
            raise
        except (RecursionError, MemoryError):
            raise self.limit("formula is too large to build", node) from None
        except (ValueError, TypeError, ArithmeticError, NotImplementedError) as exc:
            raise self.error(f"cannot build this part of the formula ({exc})", node) from exc

    def dispatch(self, node: ast.AST, depth: int):
        """Build ``node`` by its kind (called by :meth:`visit`, which checks and wraps)."""
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, (ast.Add, ast.Sub)):
                return self.sum_chain(node, depth)
            if isinstance(node.op, (ast.Mult, ast.Div)):
                return self.product_chain(node, depth)
            if isinstance(node.op, ast.Pow):
                return self.power(self.visit(node.left, depth + 1),
                                  self.visit(node.right, depth + 1), node)
            return self.other_operator(node, depth)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.visit(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return self.visit(node.operand, depth + 1)
            raise self.error(f"operator '{OPERATOR_SYMBOLS[type(node.op)]}' is not supported", node)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Name):
            return self.name(self.identifier(node), node)
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Compare):
            return self.comparison(node, depth)
        return self.other_node(node, depth)

    def comparison(self, node: ast.Compare, depth: int):
        """``a > b`` as a 0/1 step (lang's ``step(a - b)``), as in specs and as the tool prints."""
        return compare(*self.comparison_operands(node, depth, "write (a < b) * (b < c)"))

    def comparison_operands(self, node: ast.Compare, depth: int, chained_hint: str):
        """``(word, left, right)`` of a single comparison; chained or unknown ones are refused."""
        if len(node.ops) != 1:
            raise self.error("chained comparison is not supported", node, hint=chained_hint)
        word = COMPARE_WORDS.get(type(node.ops[0]))
        if word is None:
            raise self.error(f"'{type(node.ops[0]).__name__}' comparison is not supported", node,
                             hint="use one of < <= > >= == !=")
        return word, self.visit(node.left, depth + 1), self.visit(node.comparators[0], depth + 1)

    def other_node(self, node: ast.AST, depth: int):
        """Any other kind of node: refused (code syntax as unsafe, the rest as unsupported)."""
        if isinstance(node, CODE_NODES):
            raise self.error(f"{NODE_WORDS[type(node)]} is not allowed in a formula", node,
                             UnsafeExpressionError)
        word = NODE_WORDS.get(type(node), type(node).__name__)
        raise self.error(f"{word} is not supported in a formula", node)

    def sum_chain(self, node: ast.BinOp, depth: int):
        """``a + b - c + ...`` built in one step: flat, so long sums do not nest."""
        terms = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            right = self.visit(node.right, depth + 1)
            terms.append(right if isinstance(node.op, ast.Add) else -right)
            node = node.left
        terms.append(self.visit(node, depth + 1))
        return self.check_constant(self.add(terms[::-1]), node)

    def product_chain(self, node: ast.BinOp, depth: int):
        """``a * b / c * ...`` built in one step, like :meth:`sum_chain`."""
        factors = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
            right = self.visit(node.right, depth + 1)
            if isinstance(node.op, ast.Div):
                if right == 0:
                    raise self.error("division by zero", node.right)
                right = self.reciprocal(right)
                self.note_guard(right)
            factors.append(right)
            node = node.left
        factors.append(self.visit(node, depth + 1))
        return self.check_constant(self.multiply(factors[::-1]), node)

    def other_operator(self, node: ast.BinOp, depth: int):
        symbol = OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
        hint = "'@' needs an array formula (see 'derivaudit audit')" if symbol == "@" else ""
        raise self.error(f"operator '{symbol}' is not supported", node, hint=hint)

    # -- scalar semantics (overridden for arrays) ------------------------
    def add(self, terms):
        return sp.Add(*terms)

    def multiply(self, factors):
        return sp.Mul(*factors)

    def reciprocal(self, value):
        return 1 / value

    def power(self, base, exponent, node: ast.AST):
        result = self.scalar_power(base, exponent, node)
        if not (exponent.is_Integer and exponent >= 0):
            self.note_guard(result)
        return result

    def call(self, node: ast.Call, depth: int):
        spec, fname = self.function(node)
        self.check_arity(spec, fname, node)
        args = [self.visit(arg, depth + 1) for arg in node.args]
        # a function of a constant may evaluate exactly to a longer one (zeta(1000) is pi**1000
        # times a rational of over 2,000 digits): the same limit as for a written constant, so
        # that every accepted formula prints as text that parses back
        result = self.check_constant(spec.build(*args), node)
        if fname in PARTIAL_FUNCTIONS:
            self.note_guard(result)
        return result

    def name(self, ident: str, node: ast.Name):
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in FUNCTIONS and ident not in ALSO_VARIABLES:
            raise self.error(f"'{ident}' is a function; call it as {ident}(...)", node)
        return make_symbol(ident)

    def function(self, node: ast.Call, table: dict | None = None):
        """The whitelisted function called by ``node``, or a precise error."""
        table = FUNCTIONS if table is None else table
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                hint = f"write {node.func.attr}(...)" if node.func.attr in table else ""
                raise self.error("attribute access is not allowed in a formula", node.func,
                                 UnsafeExpressionError, hint=hint)
            raise self.error("only named functions can be called", node.func, UnsafeExpressionError,
                             hint="a product needs *: write (a)*(b), not (a)(b)")
        fname = self.identifier(node.func)
        if node.keywords:
            raise self.error(f"{fname}() takes no keyword arguments", node.keywords[0].value
                             if node.keywords[0].arg is None else node, UnsafeExpressionError)
        if fname not in table:
            raise self.error(f"unknown function '{fname}'", node.func, hint=unknown_function_hint(fname, table))
        return table[fname], fname
