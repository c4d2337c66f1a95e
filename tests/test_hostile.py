"""A hostile corpus: formulas written to run code, exhaust the machine or crash the parser.

Each case asserts the exact error class, and every payload that would create
a sentinel file if it ever ran names that file: it must not exist afterwards.
"""

import csv
import json
import time

import pytest
import sympy as sp

from derivaudit.cli import main
from derivaudit.errors import DerivauditError, LimitExceeded, ParseError, UnsafeExpressionError
from derivaudit.lang.parse import make_symbol, parse_formula
from derivaudit.studies.sweep import study
from derivaudit.core.symbolic import derivative

P, U, L = ParseError, UnsafeExpressionError, LimitExceeded
S = "SENTINEL"  # replaced by the path of a sentinel file in tmp_path

CORPUS = [
    # -- code execution: attributes, dunders, builtins -------------------------------
    ("().__class__.__bases__", U),
    ("().__class__.__bases__[0].__subclasses__()", U),
    ("__import__('os').system('touch SENTINEL')", U),
    ("__import__('os')", U),
    ("__builtins__", U),
    ("__import__", U),
    ("__x", U),
    ("x__", U),
    ("open('SENTINEL', 'w')", P),                      # unknown function, never called
    ("exec(\"open('SENTINEL', 'w')\")", P),
    ("eval(\"open('SENTINEL', 'w')\")", P),
    ("compile('1', 'f', 'eval')", P),
    ("getattr(x, '__class__')", P),
    ("breakpoint()", P),
    ("sin.__globals__", U),
    ("exp(x).__class__", U),
    ("np.exp(x)", U),
    ("x.real", U),
    ("os.system('touch SENTINEL')", U),
    ("exp(x)(1)", U),
    ("(lambda: 1)()", U),
    # -- syntax only code needs -------------------------------------------------------
    ("lambda: open('SENTINEL', 'w')", U),
    ("[open('SENTINEL', 'w') for _ in (1,)]", U),
    ("(open('SENTINEL', 'w') for _ in (1,))", U),
    ("{k: 1 for k in 'ab'}", U),
    ("{k for k in 'ab'}", U),
    ("f'{open(\"SENTINEL\", \"w\")}'", U),
    ("(y := 2)", U),
    ("exp(*x)", U),
    ("exp(**x)", U),
    ("exp(x=1)", U),
    ("log(x, base=e)", U),
    ("max(x, y, key=abs)", U),
    ("x[0]", U),
    ("x[1:2]", U),
    ("'abc'", U),
    ("b'abc'", U),
    ("None", U),
    ("True", U),
    ("...", U),
    ("await x", U),
    ("(yield x)", U),
    ("import os", P),
    ("x; __import__('os').system('touch SENTINEL')", P),
    ("x\n__import__('os').system('touch SENTINEL')", P),
    ("x if y else z", P),
    ("x and y", P),
    ("not x", P),
    ("~x", P),
    ("x % 2", P),
    ("x // 2", P),
    ("x << 2", P),
    ("x | y", P),
    ("x @ y", P),
    ("(x, y)", P),
    ("[x]", P),
    ("{x: y}", P),
    ("1j*x", P),
    # -- unicode look-alikes and NFKC folding ------------------------------------------
    ("𝐞𝐱𝐩(x)", U),                          # mathematical bold
    ("ｅｘｐ(x)", U),                          # fullwidth
    ("__ｉmport__('os')", U),                  # folds to __import__
    ("ℯ", U),                                  # script e folds to e
    ("\u212a", U),                             # Kelvin sign folds to K
    ("\u2126", U),                             # Ohm sign folds to Greek Omega
    ("\u00b5", U),                             # micro sign folds to Greek mu
    ("ﬁ", U),                                  # ligature folds to fi
    ("ᵢ", U),                                  # modifier letter folds to i
    ("ехр(x)", U),                             # Cyrillic е, х, р
    ("\u0430", U),                             # Cyrillic a alone
    ("l\u03bfg(x)", U),                        # Greek omicron inside 'log'
    ("x\u0301", U),                            # combining accent
    # -- control, invisible and broken characters -------------------------------------
    ("x\x00", P),
    ("\x00", P),
    ("exp(x)\x00__import__('os')", P),
    ("x\u200b+1", P),                          # zero-width space
    ("\ufeffx", P),                            # byte-order mark
    ("x\u202e", P),                            # right-to-left override
    ("x+\ud800", P),                           # lone surrogate
    ("x\x1b[2J", P),                           # terminal escape
    ("", P),
    ("   \t  ", P),
    # -- malformed -------------------------------------------------------------------
    ("(x", P),
    ("x)", P),
    (")(", P),
    ("x +", P),
    ("**x", P),
    ("exp", P),
    ("f(x)", P),
    ("max(x)", P),
    ("max(sqrt(-1), 1)", P),                   # sympy ValueError, reported as ParseError
    ("1/0", P),
    ("0**-1", P),
    ("log(0)", P),
    ("atanh(1)", P),
    ("\rfoo(x)", P),                           # fuzz finding: a lone CR is a line end
    # -- enormous constants and exponent towers ----------------------------------------
    ("1" * 102, L),
    ("1" + "0" * 99 + "1", L),
    ("0x" + "f" * 1000, L),
    ("1e1001", L),
    ("1e-1001*x", L),
    ("9**9**9**9", L),
    ("10**10**10", L),
    ("2**(2**(2**50))", L),
    ("2**2**2**2**2**2", L),
    ("(1/3)**-3000", L),
    ("1e1000**2", L),
    ("x**100000", L),
    ("(x**1000)**1000", L),
    ("((x**1000)**1000)**1000", L),
    ("x**1000*x**1000", L),
    ("e**1001", L),
    ("sqrt(2)**10000", L),
    (".9**4e-19**3e-198", L),                  # fuzz finding: exact root of degree 10**198 (OOM)
    ("2**(1/10**100)", L),
    ("e3-110**-100-------Pe-3e-910----110*NzjmW3-1*3", L),  # fuzz: 1015-digit constant inside a sum
    # -- size and depth --------------------------------------------------------------
    ("x" * 10_001, L),
    ("(" * 10_000 + "x" + ")" * 10_000, L),
    ("(" * 4_999 + "x" + ")" * 4_999, L),
    ("-" * 9_999 + "x", L),
    ("+" * 9_999 + "x", L),
    ("x" + "**x" * 3_000, L),
    ("sin(" * 1_999 + "x" + ")" * 1_999, L),
    ("x+" * 5_000 + "x", L),
    ("*".join(["x"] * 1_001), L),
]


@pytest.mark.parametrize("text, cls", CORPUS, ids=[f"{i}:{t[:30]!r}" for i, (t, _) in enumerate(CORPUS)])
def test_hostile_formula_is_refused_with_its_exact_error(text, cls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "sentinel"
    with pytest.raises(DerivauditError) as info:
        parse_formula(text.replace(S, str(sentinel)))
    assert type(info.value) is cls, f"{type(info.value).__name__}: {info.value}"
    assert str(info.value)  # a message, never empty
    assert not sentinel.exists()
    assert list(tmp_path.iterdir()) == []


def test_corpus_is_large_and_varied():
    assert len(CORPUS) >= 60
    assert {cls for _, cls in CORPUS} == {P, U, L}


@pytest.mark.parametrize("text, expected", [
    ("x # __import__('os').system('touch SENTINEL')", make_symbol("x")),  # a comment is ignored
    ("exec + eval", make_symbol("exec") + make_symbol("eval")),  # names are only variables
    ("x \\\n+ 1", make_symbol("x") + 1),
    ("+".join(["x"] * 1_000), 1_000 * make_symbol("x")),
    ("x+" * 4_999 + "x", 5_000 * make_symbol("x")),
], ids=["comment", "builtin-names", "line-continuation", "sum-1000", "sum-9999-chars"])
def test_harmless_lookalikes_parse_as_plain_math(text, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_formula(text) == expected
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("formula, at", [
    ("exp(exp(exp(exp(x))))", {"x": "10"}),
    ("2**(2**(2**(2**x)))", {"x": "5"}),
    ("x**x**x**x", {"x": "10"}),
    ("sin(10*x**1000)", {"x": "1e1000"}),
    ("sigmoid(x)", {"x": "1e7"}),
    ("exp(10**100)*x", {"x": "1"}),
])
def test_numeric_blowups_stop_at_the_magnitude_limit(formula, at):
    start = time.perf_counter()
    with pytest.raises(LimitExceeded, match="max_value_digits"):
        study(formula, at=at, eps=["0.01"], schemes=["centered"])
    assert time.perf_counter() - start < 5


def test_derivative_of_a_huge_product_is_refused_before_it_is_built():
    product = parse_formula("*".join(f"sin(x+{i})" for i in range(200)))
    with pytest.raises(LimitExceeded, match="max_expression_size"):
        derivative(product, "x", 10)


@pytest.mark.parametrize("argv", [
    ["study", "__import__('os').system('touch SENTINEL')", "--at", "x=1"],
    ["study", "x", "--at", "x=__import__('os')"],
    ["study", "x", "--at", "x=1", "--eps", "open('SENTINEL','w')"],
    ["study", "x", "--at", "x=1", "--wrt", "__class__"],
    ["study", "x", "--at", "x=1", "--schemes", "__import__"],
    ["study", "x", "--at", "x=1", "--dps", "99999999"],
    ["study", "x", "--at", "x=1", "--digits", "99999999"],
    ["study", "x", "--at", "x=1", "--order", "99999999"],
    ["study", "x\n__import__('os')", "--at", "x=1"],
    ["study", "x\x1b[2J\r", "--at", "x=1"],
    ["study", "exp(exp(exp(exp(x))))", "--at", "x=10"],
    ["study", "9**9**9**9"],
])
def test_cli_refuses_hostile_arguments_in_one_line(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sentinel = str(tmp_path / "sentinel")
    assert main([a.replace(S, sentinel) for a in argv]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.endswith("\n")
    assert "Traceback" not in err and "\x1b" not in err
    assert list(tmp_path.iterdir()) == []


def test_cli_debug_shows_the_traceback(capsys):
    assert main(["study", "x.__class__", "--at", "x=1", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "UnsafeExpressionError" in err
    assert err.splitlines()[-1].startswith("derivaudit: error: attribute access")


def test_refused_formulas_leave_sympy_usable():
    """A formula stopped half-way must not poison sympy's caches or mpmath's precision."""
    import mpmath
    for text, _ in CORPUS[:40]:
        with pytest.raises(DerivauditError):
            parse_formula(text)
    assert mpmath.mp.dps == 15
    assert sp.diff(parse_formula("x**3"), make_symbol("x")) == 3 * make_symbol("x") ** 2


# -- promise 1: nothing in the package can turn text into code -------------------------

import io  # noqa: E402
import pathlib  # noqa: E402
import tokenize  # noqa: E402

import derivaudit  # noqa: E402

#: builtins that run or reach arbitrary code when given user text or names
_BUILTINS = {"eval", "exec", "compile", "__import__", "getattr", "setattr", "delattr", "breakpoint"}
#: names that parse text as sympy code, deserialize bytes or start a shell, wherever they appear
_ALWAYS = {"sympify", "parse_expr", "pickle", "marshal", "shelve", "dill", "cloudpickle",
           "subprocess", "system", "popen", "Popen", "spawn", "execv", "execl"}
#: reviewed uses: (file, name, text on the line) -> why it is safe
ALLOWED = {
    ("guards.py", "getattr", "getattr(mpmath, name)"): "names from the fixed GUARDED_FUNCTIONS table",
    ("functions.py", "eval", "def eval(cls, arg):"): "sympy's evaluation hook of the Step class, a definition",
    ("special.py", "eval", "def eval(cls, "): "sympy's evaluation hooks of lgamma, xlogy and cbrt, definitions",
    ("piecewise.py", "eval", "def eval(cls, g, *pairs):"): "sympy's evaluation hook of the Branch class, a definition",
    ("__init__.py", "getattr", "getattr(import_module(f\".{_EXPORTS[name]}\", __name__), name)"):
        "public names from the fixed _EXPORTS table, modules of this package only",
    ("ball_code.py", "exec", 'exec(compile(source, "<derivaudit ball formula>", "exec"), namespace)'):
        "source written from register numbers, template names and operators only, never from "
        "the formula's text (tests/test_balls.py checks renamed variables give the same source)",
    ("ball_code.py", "compile", 'exec(compile(source, "<derivaudit ball formula>", "exec"), namespace)'):
        "the same line: the generated ball program",
}


def _risky_calls():
    found = []
    for path in sorted(pathlib.Path(derivaudit.__file__).parent.rglob("*.py")):
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(path.read_text("utf-8")).readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)]
        for before, tok, after in zip([None] + tokens, tokens, tokens[1:] + [None]):
            if tok.type != tokenize.NAME:
                continue
            attribute = before is not None and before.string == "."
            risky = (tok.string in _ALWAYS
                     or tok.string in _BUILTINS and not attribute
                     or tok.string == "S" and after is not None and after.string == "("  # sympy.S("text")
                     or tok.string == "shell" and after is not None and after.string == "=")
            if risky:
                found.append((path.name, tok.string, tok.line.strip()))
    return found


def test_no_code_execution_reachable_from_the_package_source():
    unexpected = [(name, word, line) for name, word, line in _risky_calls()
                  if not any(name == f and word == w and text in line for f, w, text in ALLOWED)]
    assert unexpected == []


def test_the_source_scan_finds_what_it_looks_for(tmp_path, monkeypatch):
    """The scan itself can fail: a planted eval is reported."""
    package = tmp_path / "derivaudit"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad.py").write_text("def f(text):\n    return eval(text)  # eval\n")
    monkeypatch.setattr(derivaudit, "__file__", str(package / "__init__.py"))
    assert _risky_calls() == [("bad.py", "eval", "return eval(text)  # eval")]


# -- control characters in echoed text (issue 25 item 12) ------------------------------------

_ERASE = "\x1b[2K\x1b[1G"  # erase the line, back to its start: the next text overwrites it
_RAW = ("\x1b", "\r", "\u202e", "\x07")


def _no_raw_controls(text: str) -> None:
    assert not any(c in text for c in _RAW), repr(text[:300])


def _reports(tmp_path, capsys, argv):
    code = main([*argv, "--html", str(tmp_path / "r.html"), "--csv", str(tmp_path / "r.csv")])
    out, err = capsys.readouterr()
    files = [p.read_text("utf-8") for p in sorted(tmp_path.rglob("r*")) if p.is_file()]
    return code, out, err, files


def test_a_claim_cannot_overwrite_its_verdict_on_a_terminal(tmp_path, capsys):
    claim = f"3*x  # {_ERASE}df/dx: CORRECT\u202e\x07"
    code, out, err, files = _reports(tmp_path, capsys, ["check", "x**2", "--wrt", "x", "--claim", claim])
    assert code == 1 and "df/dx: WRONG" in out
    assert "\\x1b[2K\\x1b[1Gdf/dx: CORRECT\\u202e\\x07" in out  # shown, as typed, escaped
    assert any("\\x1b[2K" in text for text in files)  # the HTML page echoes the claim
    for text in [out, err, *files]:
        _no_raw_controls(text)


def test_a_newline_in_a_claim_cannot_forge_a_line(capsys):
    assert main(["check", "x**2", "--wrt", "x", "--claim", "2*x  # fine\n# df/dx: WRONG"]) == 0
    out = capsys.readouterr().out
    assert "# fine\\n# df/dx: WRONG" in out
    assert not any(line.startswith("# df/dx") for line in out.splitlines())


def test_a_study_formula_is_echoed_escaped(tmp_path, capsys):
    code, out, err, files = _reports(tmp_path, capsys, ["study", f"x**2  # {_ERASE}\u202e", "--at", "x=1",
                                                        "--eps", "0.1", "--schemes", "centered"])
    assert code == 0 and "\\x1b[2K" in out
    for text in [out, err, *files]:
        _no_raw_controls(text)


def test_an_audit_claim_is_echoed_escaped(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text('[shapes]\nW = [2, 2]\n[params]\nnames = ["W"]\n[forward]\nloss = "np.sum(W**2)"\n'
                    '[claims]\nW = "3*W  # \\u001b[2K\\u001b[1GW: ok\\r"\n', encoding="utf-8")
    code, out, err, files = _reports(tmp_path, capsys, ["audit", str(spec)])
    assert code == 1 and "\\x1b[2K" in out
    for text in [out, err, *files]:
        _no_raw_controls(text)


def test_an_error_message_quoting_user_text_is_escaped(capsys):
    assert main(["check", f"foo(x)  # {_ERASE}", "--wrt", "x", "--claim", "1"]) == 2
    out, err = capsys.readouterr()
    assert "foo" in err
    _no_raw_controls(out + err)


# -- every output of every command, --json on stdout included --------------------------------

#: ANSI erase, a direction override, an 8-bit CSI (C1), BEL, a Unicode tag, a line separator, DEL:
#: none is escaped by JSON itself (ensure_ascii=False), except the C0 ones
_EVERY_KIND = _ERASE + "OK\u202e\x9b31m\x07\U000e0041\u2028\x7f"


def _raw_controls(text: str) -> list[str]:
    """Characters that would act on a terminal: not printable, and not a report's own layout."""
    return sorted({c for c in text if not c.isprintable() and c not in "\n\t"})


def _toml_string(text: str) -> str:
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\U{ord(c):08x}" for c in text) + '"'


def _strings(value):
    """Every key and string value of a JSON document."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def _hostile_inputs(tmp_path) -> dict[str, list[str]]:
    h = _EVERY_KIND
    spec = tmp_path / "spec.toml"
    spec.write_text(f'[shapes]\nW = [2, 2]\n[params]\nnames = ["W"]\n'
                    f'[forward]\nloss = {_toml_string("np.sum(W**2)  # " + h)}\n'
                    f'[backward]\nD = {_toml_string("2*W  # " + h)}\n'
                    f'[claims]\nW = {_toml_string("3*W  # " + h)}\n', encoding="utf-8")
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'[[study]]\nformula = {_toml_string("x**2  # " + h)}\nat = {{x = 1}}\neps = [0.1]\n'
                     'schemes = ["centered"]\n', encoding="utf-8")
    task = tmp_path / "task.toml"
    task.write_text(f'[task]\ntitle = {_toml_string("HW " + h)}\nformula = {_toml_string("x**2  # " + h)}\n'
                    'wrt = "x"\n[columns]\nid = "student"\nclaim = "answer"\n', encoding="utf-8")
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["student", "answer"], ["a" + h, "2*x  # " + h], ["b" + h, "3*x  # " + h],
                                      ["c" + h, "foo(x)  # " + h]])
    return {
        "check": ["check", "x**2  # " + h, "--wrt", "x", "--claim", "3*x  # " + h],
        "check-hessian": ["check", "x**2*y  # " + h, "--hessian", "x,y", "--claim", "2*y, 2*x; 2*x, 1  # " + h],
        "study": ["study", "x**2  # " + h, "--at", "x=1", "--eps", "0.1", "--schemes", "centered"],
        "sweep": ["sweep", str(sweep)],
        "audit": ["audit", str(spec)],
        "grade": ["grade", str(task), str(answers), "--workers", "1"],
    }


_COMMANDS = ["check", "check-hessian", "study", "sweep", "audit", "grade"]


@pytest.mark.parametrize("command", _COMMANDS)
def test_json_on_stdout_is_valid_json_and_inert(command, tmp_path, capsys):
    code = main([*_hostile_inputs(tmp_path)[command], "--json"])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    assert _raw_controls(out) == [] and _raw_controls(err) == []
    document = json.loads(out)
    # the values too: a grader's script that prints a field prints the escape, not the control
    assert [s for s in _strings(document) if _raw_controls(s)] == []
    assert any("\\x1b[2K" in s for s in _strings(document))


@pytest.mark.parametrize("command", _COMMANDS)
def test_text_csv_and_html_of_every_command_are_inert(command, tmp_path, capsys):
    reports = tmp_path / "reports"
    reports.mkdir()
    code = main([*_hostile_inputs(tmp_path)[command], "--csv", str(reports / "r.csv"),
                 "--html", str(reports / "r.html")])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    files = [p.read_text("utf-8") for p in sorted(reports.rglob("*")) if p.is_file()]
    assert files and "\\x1b[2K" in out + err + "".join(files)
    for text in [out, err, *files]:
        assert _raw_controls(text) == []


def test_results_of_the_python_api_are_inert(tmp_path):
    import derivaudit as da
    from derivaudit.grading import grade

    h = _EVERY_KIND
    argv = _hostile_inputs(tmp_path)
    results = [da.check("x**2  # " + h, wrt="x", claim="3*x  # " + h),
               da.study("x**2  # " + h, at={"x": 1}, eps=[0.1], schemes=["centered"]),
               da.audit(argv["audit"][1]), grade(argv["grade"][1], argv["grade"][2], workers=1)]
    for result in results:
        for text in (result.summary(), result.to_json(), result._repr_html_(), repr(result)):
            assert _raw_controls(text) == [], type(result).__name__
        assert [s for s in _strings(json.loads(result.to_json())) if _raw_controls(s)] == []
