import pytest
import sympy as sp

from derivaudit.errors import LimitExceeded, ParseError, UnsafeExpressionError
from derivaudit.lang.parse import FUNCTIONS, format_formula, make_symbol, parse_constant, parse_formula

x, y, theta = (make_symbol(n) for n in ("x", "y", "theta"))


@pytest.mark.parametrize("text, expected", [
    ("theta**3", theta**3),
    ("theta^3 + 1", theta**3 + 1),          # ^ is power with power's precedence
    ("x^2*y", x**2 * y),
    ("0.01*x", sp.Rational(1, 100) * x),     # exact decimal, not a binary float
    ("1e-12", sp.Rational(1, 10**12)),
    ("2.5E3", sp.Integer(2500)),
    ("1_000*x", 1000 * x),
    ("-x", -x),
    ("+x", x),
    ("x - y - 1", x - y - 1),
    ("x / y / 2", x / y / 2),
    ("pi*e", sp.pi * sp.E),
    ("e**x", sp.exp(x)),
    ("sigmoid(x)", 1 / (1 + sp.exp(-x))),
    ("softplus(x)", sp.log(1 + sp.exp(x))),
    ("relu(x)", sp.Max(0, x)),
    ("max(x, y)", sp.Max(x, y)),
    ("min(x, y)", sp.Min(x, y)),
    ("abs(x)", sp.Abs(x)),
    ("sqrt(x)", sp.sqrt(x)),
    ("log(x, 2)", sp.log(x) / sp.log(2)),
    ("arctan(x)", sp.atan(x)),
    ("tanh(x) + sinh(x) + cosh(x)", sp.tanh(x) + sp.sinh(x) + sp.cosh(x)),
    ("asin(x)+acos(x)+atan(x)", sp.asin(x) + sp.acos(x) + sp.atan(x)),
    ("θ**2", make_symbol("θ")**2),
])
def test_accepts_the_formula_language(text, expected):
    assert parse_formula(text) == expected


def test_every_whitelisted_function_parses():
    for name, spec in FUNCTIONS.items():
        args = ", ".join(["x", "y", "x"][:max(1, spec.min_args)])
        args = "2, x" if name == "polygamma" else args  # its order is a whole number
        expr = parse_formula(f"{name}({args})")
        assert expr.free_symbols <= {x, y}


def test_variables_are_real_symbols():
    assert parse_formula("w*x").free_symbols == {make_symbol("w"), x}
    assert all(s.is_real for s in parse_formula("w*x").free_symbols)


def test_unknown_function_names_column_and_suggestion():
    with pytest.raises(ParseError) as info:
        parse_formula("sine(x)")
    assert str(info.value) == "unknown function 'sine' at column 1; did you mean 'sin'?"
    assert info.value.column == 1


def test_column_points_after_caret_rewrite():
    with pytest.raises(ParseError) as info:
        parse_formula("x^2 + foo(x)")
    assert info.value.column == 7


@pytest.mark.parametrize("text, cls, fragment", [
    ("x.real", UnsafeExpressionError, "attribute access"),
    ("().__class__.__bases__", UnsafeExpressionError, "attribute access"),
    ("__import__('os')", UnsafeExpressionError, "dunder"),
    ("x[0]", UnsafeExpressionError, "subscript"),
    ("lambda: 1", UnsafeExpressionError, "lambda"),
    ("[x for x in y]", UnsafeExpressionError, "comprehension"),
    ("(x for x in y)", UnsafeExpressionError, "generator"),
    ("'abc'", UnsafeExpressionError, "string"),
    ("f'{x}'", UnsafeExpressionError, "f-string"),
    ("(y := 2)", UnsafeExpressionError, ":="),
    ("exp(*x)", UnsafeExpressionError, "starred"),
    ("exp(x=1)", UnsafeExpressionError, "keyword"),
    ("np.exp(x)", UnsafeExpressionError, "attribute access"),
    ("ｅｘｐ(x)", UnsafeExpressionError, "plain form"),
    ("f(x)", ParseError, "unknown function 'f'"),
    ("x < y < 1", ParseError, "chained comparison"),
    ("x % 2", ParseError, "'%'"),
    ("x @ y", ParseError, "'@'"),
    ("1j*x", ParseError, "complex"),
    ("sin", ParseError, "is a function"),
    ("max(x, y, 1)", ParseError, "takes 2 arguments"),
    ("(x", ParseError, "syntax error"),
    ("", ParseError, "empty"),
    ("x\x00", ParseError, "null byte"),
    ("1/0", ParseError, "division by zero"),
])
def test_rejects_everything_else(text, cls, fragment):
    with pytest.raises(cls) as info:
        parse_formula(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize("text", ["9**9**9**9", "10**10**10", "2**(2**(2**50))", "x**100000",
                                  "1" * 200, "(" * 150 + "x" + ")" * 150, "1e99999", "x+" * 6000 + "x"])
def test_limits(text):
    with pytest.raises(LimitExceeded):
        parse_formula(text)


def test_long_sums_are_flat_not_deep():
    expr = parse_formula("+".join(f"x{i}" for i in range(1500)))  # 1500 levels deep in Python's AST
    assert len(expr.args) == 1500


def test_parse_constant():
    assert parse_constant("pi/4") == sp.pi / 4
    assert parse_constant("0.01") == sp.Rational(1, 100)
    with pytest.raises(ParseError, match="must be a number"):
        parse_constant("x+1")


@pytest.mark.parametrize("text", ["relu(x) + abs(y) + max(x, y)", "sigmoid(x)*e**y", "log(1+exp(x))/3"])
def test_format_round_trips(text):
    expr = parse_formula(text)
    assert parse_formula(format_formula(expr)) == expr


def test_format_round_trips_a_negated_product_with_a_sum():
    # found by hypothesis: "-(a + b)*c" would read back with the minus distributed over the sum
    expr = parse_formula("(-(min(e, y))) * ((erf(1_000)) - (-(0.5)))")
    assert parse_formula(format_formula(expr)) == expr


@pytest.mark.parametrize("text", ["-(((3.14159)**2) / ((0.01) - (x)))", "0.5*sigmoid(x)", "3/(4*(x+y)*(x-1))"])
def test_a_fraction_over_a_sum_prints_back_to_the_same_tree(text):
    # hypothesis found -98695877281/(10000000000*(1/100 - x)): the printed denominator read back distributed
    expr = parse_formula(text)
    assert parse_formula(format_formula(expr)) == expr


def test_abs_of_a_negated_abs_is_canonical():
    # sympy leaves Abs(-Abs(x)) as Abs(Abs(x)), which prints as abs(abs(x)) and reads back as
    # Abs(x): the round-trip property failed in about one CI run in six (hypothesis found it)
    expr = parse_formula("abs(-(abs(x)))")
    assert expr == parse_formula("abs(x)")
    assert parse_formula(format_formula(expr)) == expr
    assert parse_formula("abs(-(abs(x)) * y)") == parse_formula("abs(abs(x) * y)")


def test_comparisons_are_0_1_steps_as_the_tool_prints_them():
    # issue 22 item 4: what the tool prints (sign, Heaviside, (x > 0)) reads back
    from derivaudit.lang.functions import Step
    assert parse_formula("(x > y)") == Step(x - y)
    assert parse_formula("(x < 1)") == Step(1 - x)
    assert parse_formula("(x >= 0)") == 1 - Step(-x)
    assert parse_formula("sign(x)") == sp.sign(x)
    assert parse_formula("Heaviside(x)") == sp.Heaviside(x)


@pytest.mark.parametrize("text, name", [("EXP(x)", "exp"), ("SOFTPLUS(x)", "softplus"), ("Erfc(x)", "erfc"),
                                        ("LOGADDEXP(x, 1)", "logaddexp")])
def test_a_name_in_the_wrong_case_is_suggested_in_the_right_one(text, name):
    with pytest.raises(ParseError) as info:
        parse_formula(text)
    assert str(info.value).endswith(f"; did you mean '{name}'?")


def test_names_in_specs_and_methods_are_suggested_whatever_their_case():
    from derivaudit.audits.definitions import suggest
    from derivaudit.lang.array_walker import parse_array_formula
    from derivaudit.lang.arrays import symbol_array
    assert suggest("DZ1", ["dZ1", "dZ2", "W1"]) == " (did you mean 'dZ1'?)"
    assert suggest("dz2", ["dZ1", "dZ2", "W1"]) == " (did you mean 'dZ2'?)"
    with pytest.raises(ParseError, match=r"did you mean \.sum\(\)\?"):
        parse_array_formula("X.SUM()", {"X": symbol_array("X", (2, 2))})
