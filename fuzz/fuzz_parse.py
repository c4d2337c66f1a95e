"""Coverage-guided fuzz target for the formula parser (atheris / libFuzzer).

Every input is decoded to text and parsed; the only acceptable outcomes are
a sympy expression or a documented :class:`derivaudit.errors.DerivauditError`.
Anything else (an undocumented exception, a crash, a hang past libFuzzer's
``-timeout``) is a finding.  See ``fuzz/README.md``.
"""

import sys

import atheris

with atheris.instrument_imports(include=["derivaudit"]):
    from derivaudit.errors import DerivauditError
    from derivaudit.lang.parse import format_formula, parse_formula


def test_one_input(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    try:
        expr = parse_formula(text)
    except DerivauditError:
        return
    # A formula that parses must print back to a formula that parses to the same tree.
    try:
        printed = format_formula(expr)
    except DerivauditError:
        return  # e.g. a complex constant has no formula form
    if parse_formula(printed) != expr:
        raise AssertionError(f"round trip changed {text!r}: {printed!r}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
