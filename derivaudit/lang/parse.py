"""Safe parsing of formula text into sympy expressions.

The formula language is the arithmetic subset of Python/NumPy syntax:
numbers (exact: ``0.01`` is 1/100), variables, ``+ - * / **`` (``^`` is
accepted as power), unary minus, parentheses and calls of a fixed set of
functions (:data:`FUNCTIONS`), plus the constants ``pi`` and ``e``.

The text is parsed by Python's :mod:`ast` and the tree is walked node by
node against a whitelist; sympy objects are built directly from the nodes.
Nothing ever reaches ``eval``, ``exec``, ``sympify`` or ``parse_expr``, so a
formula cannot run code.  Sizes that could exhaust the machine (text length,
nesting depth, digits of exact constants, exponents) are bounded by
:class:`~derivaudit.limits.Limits`.
"""

from __future__ import annotations

import ast
import math
import re
import sys
import unicodedata
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import sympy as sp
from sympy.printing.str import StrPrinter

from derivaudit.lang.hints import syntax_hint, unknown_function_hint
from derivaudit.errors import DerivauditError, LimitExceeded, ParseError, UnsafeExpressionError
from derivaudit.core.guards import time_budget
from derivaudit.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "FUNCTIONS",
    "CONSTANTS",
    "make_symbol",
    "parse_formula",
    "parse_constant",
    "format_formula",
    "free_variables",
]


def make_symbol(name: str) -> sp.Symbol:
    """The sympy symbol derivaudit uses for the variable ``name``.

    Variables are real: every formula is a real function of real inputs, and
    the assumption lets sympy simplify ``Abs``, ``sqrt(x**2)`` and friends.
    All modules build symbols through this function so that a formula and a
    claim parsed separately share the same symbols.
    """
    return sp.Symbol(name, real=True)


def _sigmoid(z):
    return 1 / (1 + sp.exp(-z))


def _softplus(z):
    return sp.log(1 + sp.exp(z))


@dataclass(frozen=True)
class FunctionSpec:
    """A callable name of the formula language: its sympy builder and arity."""

    build: Callable[..., sp.Expr]
    min_args: int
    max_args: int
    #: analytic along the real axis (complex step applies to it)
    analytic: bool = True


def _unary(f, analytic=True):
    return FunctionSpec(f, 1, 1, analytic)


#: Functions a formula may call, by name.
FUNCTIONS: dict[str, FunctionSpec] = {
    "exp": _unary(sp.exp),
    "expm1": _unary(lambda z: sp.exp(z) - 1),
    "log": FunctionSpec(lambda z, base=None: sp.log(z) if base is None else sp.log(z) / sp.log(base), 1, 2),
    "log1p": _unary(lambda z: sp.log(1 + z)),
    "log2": _unary(lambda z: sp.log(z) / sp.log(2)),
    "log10": _unary(lambda z: sp.log(z) / sp.log(10)),
    "sqrt": _unary(sp.sqrt),
    "sin": _unary(sp.sin),
    "cos": _unary(sp.cos),
    "tan": _unary(sp.tan),
    "sinh": _unary(sp.sinh),
    "cosh": _unary(sp.cosh),
    "tanh": _unary(sp.tanh),
    "asin": _unary(sp.asin),
    "acos": _unary(sp.acos),
    "atan": _unary(sp.atan),
    "asinh": _unary(sp.asinh),
    "acosh": _unary(sp.acosh),
    "atanh": _unary(sp.atanh),
    "arcsin": _unary(sp.asin),
    "arccos": _unary(sp.acos),
    "arctan": _unary(sp.atan),
    "arcsinh": _unary(sp.asinh),
    "arccosh": _unary(sp.acosh),
    "arctanh": _unary(sp.atanh),
    "erf": _unary(sp.erf),
    "sigmoid": _unary(_sigmoid),
    "softplus": _unary(_softplus),
    "abs": _unary(sp.Abs, analytic=False),
    "relu": _unary(lambda z: sp.Max(0, z), analytic=False),
    # doit(): sympy's Max/Min may leave an unevaluated Min(1, 69) inside; printing and
    # parsing again would evaluate it, so the tree is made canonical once, here
    "max": FunctionSpec(lambda a, b: sp.Max(a, b).doit(), 2, 2, analytic=False),
    "min": FunctionSpec(lambda a, b: sp.Min(a, b).doit(), 2, 2, analytic=False),
}

#: Names that stand for constants rather than variables.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}

# Syntax that only code needs.  Meeting one of these is reported as an
# attempt to escape the formula language, not as a typo.
_CODE_NODES = (
    ast.Attribute, ast.Subscript, ast.Lambda, ast.ListComp, ast.SetComp,
    ast.DictComp, ast.GeneratorExp, ast.NamedExpr, ast.Starred,
    ast.JoinedStr, ast.FormattedValue, ast.Await, ast.Yield, ast.YieldFrom,
    ast.Slice,
)

_NODE_WORDS = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression",
    ast.NamedExpr: "assignment expression ':='", ast.Starred: "starred argument",
    ast.JoinedStr: "f-string", ast.FormattedValue: "f-string", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "slice",
    ast.Compare: "comparison", ast.BoolOp: "boolean operator", ast.IfExp: "conditional expression",
    ast.Tuple: "tuple", ast.List: "list", ast.Dict: "dict", ast.Set: "set",
}

_OPERATOR_SYMBOLS = {
    ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.Not: "not", ast.Invert: "~",
}

_DIGIT_RUN = re.compile(r"\d[\d_]*")
_FLOAT_EXPONENT = re.compile(r"[eE]([+-]?[\d_]+)")


def _is_greek(ch: str) -> bool:
    return "GREEK" in unicodedata.name(ch, "")


class SourceText:
    """Formula text as given, and as handed to :func:`ast.parse`.

    ``^`` is rewritten to ``**`` before parsing (Python reads ``^`` as xor,
    with the wrong precedence); :meth:`column` maps positions in the
    rewritten text back to the user's columns so errors point at what they
    typed.  Line ends are rewritten to ``\n``: Python's tokenizer also ends
    lines at ``\r\n`` and a lone ``\r``, and positions must count lines as it does.
    """

    def __init__(self, text: str):
        self.original = text
        pieces: list[str] = []
        self._origin: list[int] = []  # rewritten offset -> original offset
        for i, ch in enumerate(text):
            if ch == "^":
                pieces.append("**")
                self._origin += [i, i]
            elif ch == "\r":
                if text[i + 1:i + 2] != "\n":
                    pieces.append("\n")
                    self._origin.append(i)
            else:
                pieces.append(ch)
                self._origin.append(i)
        self._origin.append(len(text))
        self.rewritten = "".join(pieces)
        self._line_starts = [0]
        for i, ch in enumerate(self.rewritten):
            if ch == "\n":
                self._line_starts.append(i + 1)
        # ast positions are UTF-8 byte offsets within a line
        self._line_bytes = [line.encode("utf-8") for line in self.rewritten.split("\n")]

    def _offset(self, lineno: int, char_col: int) -> int:
        lineno = max(1, min(lineno, len(self._line_starts)))
        return min(self._line_starts[lineno - 1] + char_col, len(self._origin) - 1)

    def position(self, lineno: int, utf8_col: int) -> tuple[int, int]:
        """(line, 1-based column in the original text) of an ast position."""
        lineno = max(1, min(lineno, len(self._line_bytes)))
        char_col = len(self._line_bytes[lineno - 1][:utf8_col].decode("utf-8", "ignore"))
        return self._original_position(lineno, char_col)

    def _original_position(self, lineno: int, char_col: int) -> tuple[int, int]:
        offset = self._origin[self._offset(lineno, char_col)]
        head = self.original[:offset].replace("\r\n", "\n").replace("\r", "\n")
        line_start = self.original[:offset].rfind("\n")
        line_start = max(line_start, self.original[:offset].rfind("\r")) + 1
        return head.count("\n") + 1, offset - line_start + 1

    def segment(self, node: ast.AST) -> str:
        """The rewritten text of ``node`` (as typed, before NFKC folding)."""
        if node.lineno != node.end_lineno:
            return ast.get_source_segment(self.rewritten, node) or ""
        line = self._line_bytes[node.lineno - 1]
        return line[node.col_offset:node.end_col_offset].decode("utf-8", "ignore")


class FormulaBuilder:
    """Walks a whitelisted Python syntax tree and builds a sympy expression.

    Subclasses (array formulas) override :meth:`call`, :meth:`name` and the
    operator hooks; the safety checks — node whitelist, identifiers, exact
    numbers, depth and size limits — live here once.
    """

    def __init__(self, source: SourceText, limits: Limits):
        self.source = source
        self.limits = limits

    # -- errors ---------------------------------------------------------
    def error(self, message: str, node: ast.AST | None = None, cls=ParseError, hint: str = ""):
        line = column = None
        if node is not None and hasattr(node, "lineno"):
            line, column = self.source.position(node.lineno, node.col_offset)
        return cls(message, source=self.source.original, line=line, column=column, hint=hint)

    def limit(self, message: str, node: ast.AST | None = None) -> LimitExceeded:
        err = self.error(message, node)
        return LimitExceeded(str(err))

    # -- walking --------------------------------------------------------
    def build(self, tree: ast.Expression):
        return self.visit(tree.body, 1)

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
        if isinstance(node, _CODE_NODES):
            raise self.error(f"{_NODE_WORDS[type(node)]} is not allowed in a formula", node,
                             UnsafeExpressionError)
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
            raise self.error(f"operator '{_OPERATOR_SYMBOLS[type(node.op)]}' is not supported", node)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Name):
            return self.name(self.identifier(node), node)
        if isinstance(node, ast.Constant):
            return self.number(node)
        word = _NODE_WORDS.get(type(node), type(node).__name__)
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
            factors.append(right)
            node = node.left
        factors.append(self.visit(node, depth + 1))
        return self.check_constant(self.multiply(factors[::-1]), node)

    def other_operator(self, node: ast.BinOp, depth: int):
        symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
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
        self.check_power(base, exponent, node)
        result = base ** exponent
        if result.has(sp.zoo, sp.nan):
            raise self.error("division by zero", node)
        return result

    def call(self, node: ast.Call, depth: int):
        spec, fname = self.function(node)
        if len(node.args) < spec.min_args or len(node.args) > spec.max_args:
            raise self.error(f"{fname}() takes {self._arity(spec)}, got {len(node.args)}", node)
        args = [self.visit(arg, depth + 1) for arg in node.args]
        return spec.build(*args)

    def name(self, ident: str, node: ast.Name):
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in FUNCTIONS:
            raise self.error(f"'{ident}' is a function; call it as {ident}(...)", node)
        return make_symbol(ident)

    # -- shared checks ---------------------------------------------------
    @staticmethod
    def _arity(spec: FunctionSpec) -> str:
        if spec.min_args == spec.max_args:
            n = spec.min_args
            return f"{n} argument" + ("s" if n != 1 else "")
        return f"{spec.min_args} to {spec.max_args} arguments"

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
                             if node.keywords[0].arg is None else node, self.keyword_error_class())
        if fname not in table:
            raise self.error(f"unknown function '{fname}'", node.func, hint=unknown_function_hint(fname, table))
        return table[fname], fname

    def keyword_error_class(self):
        return UnsafeExpressionError

    def identifier(self, node: ast.Name) -> str:
        """The variable or function name of ``node``, checked for safety.

        Python folds identifiers to NFKC (``ｅｘｐ`` reads as ``exp``); a name
        must be typed in its folded form, be ASCII or Greek (not a mix, which
        is how look-alikes are made), and not be a dunder.
        """
        ident = node.id
        typed = self.source.segment(node)
        if typed and typed != ident:
            raise self.error(f"identifier '{typed}' is not in plain form (it reads as '{ident}'); "
                             "type it in plain letters", node, UnsafeExpressionError)
        if ident.startswith("__") or ident.endswith("__"):
            raise self.error(f"name '{ident}' is not allowed (dunder names are reserved)", node,
                             UnsafeExpressionError)
        letters = [ch for ch in ident if ch.isalpha()]
        ascii_letters = sum(ch.isascii() for ch in letters)
        greek = sum(_is_greek(ch) for ch in letters)
        if ascii_letters + greek != len(letters) or (ascii_letters and greek):
            raise self.error(f"identifier '{ident}' mixes scripts or uses letters outside ASCII "
                             "and Greek; rename it", node, UnsafeExpressionError)
        if not all(ch.isascii() or ch.isalpha() for ch in ident):
            raise self.error(f"identifier '{ident}' has non-ASCII digits or marks", node,
                             UnsafeExpressionError)
        return ident

    def number(self, node: ast.Constant):
        """An exact sympy number from a literal's text: ``0.01`` is 1/100."""
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, complex):
                raise self.error("complex literals are not supported", node)
            kind = {str: "string", bytes: "bytes"}.get(type(value), repr(value))
            raise self.error(f"{kind} literal is not allowed in a formula", node, UnsafeExpressionError)
        text = self.source.segment(node).replace("_", "")
        if isinstance(value, int):
            # exact bound 10**(digits-1), which also catches hex, octal and binary
            # literals that the decimal digit scan of prepare() cannot see
            if value > 10 ** (self.limits.max_literal_digits - 1):
                shown = text if len(text) <= 24 else f"{text[:20]}..."
                raise self.limit(f"integer {shown} is above 10**{self.limits.max_literal_digits - 1} "
                                 "(limit Limits.max_literal_digits)", node)
            return sp.Integer(value)
        exponent = _FLOAT_EXPONENT.search(text)
        if exponent and abs(int(exponent.group(1))) > self.limits.max_constant_digits:
            raise self.limit(f"number {text} has an exponent beyond "
                             f"{self.limits.max_constant_digits}", node)
        fraction = Fraction(text)
        return sp.Rational(fraction.numerator, fraction.denominator)

    @staticmethod
    def _digits(n: int) -> int:
        return int(abs(n).bit_length() * 0.30102999566398120) + 1

    def check_constant(self, value, node: ast.AST):
        """Refuse exact constants with more digits than the limit allows, and
        powers that combined past the exponent limit (``x**1000*x**1000``).

        A sum or product combines the constants of its operands (and sympy
        distributes numbers over sums), so the result and two levels of its
        arguments are checked; deeper parts were checked when they were built.
        """
        if not isinstance(value, sp.Basic):
            return value
        for term in (value, *value.args, *(a for arg in value.args for a in arg.args)):
            if isinstance(term, sp.Rational):
                digits = max(self._digits(term.p), self._digits(term.q))
                if digits > self.limits.max_constant_digits:
                    raise self.limit(f"constant has about {digits} digits (limit "
                                     f"{self.limits.max_constant_digits})", node)
            elif (term.is_Pow and term.exp.is_Rational and not term.base.is_Rational
                    and abs(term.exp.p) > self.limits.max_exponent):
                raise self.limit(f"the formula combines to the power {term.exp}, beyond the "
                                 f"limit of {self.limits.max_exponent}", node)
        return value

    def check_power(self, base, exponent, node: ast.AST) -> None:
        """Refuse powers whose exact value or expansion would be enormous.

        ``b**n`` with rational ``b`` has about ``|n|·log10|b|`` digits; sympy
        would compute them eagerly, so the size is estimated first.
        """
        if not (isinstance(exponent, sp.Rational) and exponent.is_Rational):
            return
        if isinstance(base, sp.Pow) and base.exp.is_Rational and not base.base.is_Rational:
            # (x**a)**b is x**(a*b) for the integer exponents sympy combines
            base, exponent = base.base, base.exp * exponent
        if isinstance(base, sp.Rational):
            if base == 0 and exponent < 0:
                raise self.error("division by zero", node)
            if exponent.q > self.limits.max_exponent and abs(base) != 1 and base != 0:
                # sympy extracts exact roots of rational bases: cost grows with the degree
                degree = exponent.q if exponent.q < 10**12 else f"about 10**{len(str(exponent.q)) - 1}"
                raise self.limit(f"root of degree {degree} of a number is beyond the limit of "
                                 f"{self.limits.max_exponent}", node)
            # digits of the result: |n|·log10(base) + 1, estimated before sympy computes it
            size = max(math.log10(abs(base.p)) if base.p else 0, math.log10(base.q)) * abs(exponent.p) / exponent.q + 1
            if size > self.limits.max_constant_digits:
                raise self.limit(f"power has about {int(size)} digits (limit "
                                 f"{self.limits.max_constant_digits})", node)
        elif abs(exponent.p) > self.limits.max_exponent:
            raise self.limit(f"exponent {exponent} is beyond the limit of "
                             f"{self.limits.max_exponent}", node)


def prepare(text: str, limits: Limits) -> tuple[SourceText, ast.Expression]:
    """Check the raw text against the limits and parse it to a Python AST.

    Cheap scans run first so that nothing large or deep reaches the parser.
    """
    if not isinstance(text, str):
        raise ParseError(f"formula must be text, not {type(text).__name__}")
    if len(text) > limits.max_formula_length:
        raise LimitExceeded(f"formula is {len(text)} characters long "
                            f"(limit {limits.max_formula_length})")
    if "\x00" in text:
        raise ParseError("formula contains a null byte", source=text, column=text.index("\x00") + 1)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: not a character at all
        raise ParseError(f"formula contains an invalid character U+{ord(text[exc.start]):04X}",
                         source=text, column=exc.start + 1) from None
    if not text.strip():
        raise ParseError("formula is empty")
    depth = deepest = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
            if depth > limits.max_depth:
                raise LimitExceeded(f"formula nests brackets deeper than {limits.max_depth} "
                                    f"levels at column {i + 1}")
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    for run in _DIGIT_RUN.finditer(text):
        if len(run.group().replace("_", "")) > limits.max_literal_digits:
            raise LimitExceeded(f"number at column {run.start() + 1} has "
                                f"{len(run.group())} digits (limit {limits.max_literal_digits})")
    source = SourceText(text)
    # Python's parser nests a left-associative sum one level per term, so a
    # long (legitimate) sum needs a recursion limit proportional to its length;
    # the text length is already bounded, so is this.
    recursion_limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(recursion_limit, 2 * len(source.rewritten) + 200))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source.rewritten, mode="eval")
    except SyntaxError as exc:
        line, column = source._original_position(exc.lineno or 1, max((exc.offset or 1) - 1, 0))
        raise ParseError(f"syntax error: {exc.msg}", source=text, line=line, column=column,
                         hint=syntax_hint(text)) from None
    except (RecursionError, MemoryError):
        raise LimitExceeded("formula is too deeply nested to parse") from None
    finally:
        sys.setrecursionlimit(recursion_limit)
    return source, tree


def parse_formula(text: str, *, limits: Limits = DEFAULT_LIMITS) -> sp.Expr:
    """Parse a scalar formula into a sympy expression.

    >>> parse_formula("theta^3 + 0.5*sigmoid(theta)")
    theta**3 + 1/(2*(1 + exp(-theta)))

    Raises :class:`~derivaudit.errors.ParseError` (with the column at fault),
    :class:`~derivaudit.errors.UnsafeExpressionError` for syntax that only code
    uses, and :class:`~derivaudit.errors.LimitExceeded` past ``limits``.
    """
    source, tree = prepare(text, limits)
    try:
        with time_budget(limits.symbolic_seconds, "building the formula", "symbolic_seconds"):
            expr = FormulaBuilder(source, limits).build(tree)
    except RecursionError:
        raise LimitExceeded("formula is too deeply nested to build") from None
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ParseError("formula is undefined (it divides by zero)", source=text)
    return expr


def parse_constant(text: str, *, what: str = "value", limits: Limits = DEFAULT_LIMITS) -> sp.Expr:
    """Parse an exact real constant such as ``0.01``, ``1e-12`` or ``pi/4``."""
    try:
        value = parse_formula(str(text), limits=limits)
    except ParseError as exc:
        raise ParseError(f"{what} {text!r}: {exc}") from None
    if value.free_symbols:
        names = ", ".join(sorted(s.name for s in value.free_symbols))
        raise ParseError(f"{what} {text!r} must be a number, not a formula in {names}")
    if value.is_real is False:
        raise ParseError(f"{what} {text!r} is not a real number")
    return value


def free_variables(expr: sp.Expr) -> list[sp.Symbol]:
    """The variables of ``expr``, sorted by name."""
    return sorted(expr.free_symbols, key=lambda s: s.name)


#: digits per piece when a long integer is printed; below the default literal limit
_PIECE_DIGITS = 100


def _integer_text(n: int) -> str:
    """``n`` as formula text that parses back under the default literal limit.

    A computed constant may have up to ``max_constant_digits`` digits, more
    than a literal may; such a number is printed as a sum of exact literals of
    at most 100 digits each, ``(d₁e200 + d₂e100 + d₃)``.
    """
    digits = str(abs(n))
    if len(digits) <= _PIECE_DIGITS:
        return str(n)
    pieces = []
    for end in range(len(digits), 0, -_PIECE_DIGITS):
        piece = digits[max(0, end - _PIECE_DIGITS):end].lstrip("0")
        power = len(digits) - end
        if piece:
            pieces.append(piece if power == 0 else f"{piece}e{power}")
    text = "(" + " + ".join(reversed(pieces)) + ")"
    return "-" + text if n < 0 else text


class _FormulaPrinter(StrPrinter):
    """Prints sympy expressions back in the formula language."""

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        return self._nary("max", expr.args)

    def _print_Min(self, expr):
        return self._nary("min", expr.args)

    def _nary(self, name, args):
        text = self._print(args[0])
        for arg in args[1:]:
            text = f"{name}({text}, {self._print(arg)})"
        return text

    def _print_Exp1(self, expr):
        return "e"

    def _print_Mul(self, expr):
        # StrPrinter writes Mul(-1, a + b, c) as "-(a + b)*c", which reads back as
        # Mul(Mul(-1, a + b), c): sympy distributes a lone -1 over the sum, another tree.
        # "-1*(a + b)*c" reads back as one product of the same three factors.
        coefficient, factors = expr.as_coeff_mul()
        if coefficient == -1 and len(factors) > 1 and any(f.is_Add for f in factors):
            return "-1*" + self._print(sp.Mul(*factors, evaluate=False))
        return super()._print_Mul(expr)

    def _print_Integer(self, expr):
        return _integer_text(int(expr.p))

    def _print_Rational(self, expr):
        if expr.q == 1:
            return _integer_text(int(expr.p))
        return f"{_integer_text(int(expr.p))}/{_integer_text(expr.q)}"

    def _print_ImaginaryUnit(self, expr):
        raise ParseError("the expression is complex and has no formula form")


def format_formula(expr: sp.Expr) -> str:
    """Text of ``expr`` in the formula language; :func:`parse_formula` reads it back."""
    return _FormulaPrinter().doprint(expr)
