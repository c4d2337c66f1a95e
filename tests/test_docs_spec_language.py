"""docs/audit.md's spec-language section: every example in it runs and says what it shows."""

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from derivaudit.audits.spec import load_spec
from derivaudit.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "audit.md").read_text()
SECTION = DOC[DOC.index("## The spec language"):]
SECTION = SECTION[:SECTION.index("\n## ", 3)] if "\n## " in SECTION[3:] else SECTION

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_numpy_language import ours, theirs  # noqa: E402  (the same inputs: x, v, u, w, Q, K, y, N)

ROWS = [(m.group(1), m.group(2), ast.literal_eval(m.group(3)))
        for m in re.finditer(r"^\| (.+?) \| `(.+?)` \| (\(.*?\)) \|$", SECTION, re.M)]


def test_the_table_has_one_row_per_construct():
    assert len(ROWS) >= 50
    listed = " ".join(construct for construct, _, _ in ROWS)
    for name in ("var", "std", "sqrt", "abs", "maximum", "minimum", "clip", "exp", "log1p", "expm1", "tanh",
                 "einsum", "swapaxes", "transpose", "stack", "concatenate", "eye", "arange", "ones", "zeros",
                 "full", "outer", "pad", "softmax", "log_softmax", "logsumexp", "sigmoid", "relu", "where",
                 "shape", "size", "ndim", "len", "flatten", "ravel", "squeeze", "expand_dims", "prod", "power",
                 "sign", "linalg.norm", "diag", "trace", "cumsum", "tile", "repeat", "triu", "tril", "full_like"):
        assert name in listed, name


@pytest.mark.parametrize("construct, example, shape", ROWS, ids=[r[1] for r in ROWS])
def test_each_construct_example_is_numpy(construct, example, shape):
    expected = theirs(example)
    got = ours(example)
    assert expected.shape == shape and got.shape == shape
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_the_spec_shown_is_the_example_file():
    block = re.search(r"```toml\n(.*?)```", SECTION, re.S).group(1)
    shown = tomllib.loads(block)
    assert block.startswith("# examples/numpy/softmax_classifier.toml")
    example = tomllib.loads((ROOT / "examples" / "numpy" / "softmax_classifier.toml").read_text())
    assert {k: v for k, v in shown.items() if k != "audit"} == example
    assert load_spec(shown).params == ("W", "b")


def test_the_command_shown_prints_its_lines():
    block = re.search(r"```\n\$ (derivaudit .*?)\n(.*?)```", SECTION, re.S)
    run = subprocess.run([sys.executable, "-m", *block.group(1).split()], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert run.returncode == 1
    for line in block.group(2).splitlines():
        if line != "...":
            assert line in run.stdout.splitlines()


def test_the_error_shown_is_the_error_given(tmp_path, monkeypatch, capsys):
    shown = re.search(r"```\n(derivaudit: error: .*?)\n```", SECTION, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    Path("spec.toml").write_text('[shapes]\nx = [3, 2]\nW = [2, 2]\n[params]\nnames = ["W"]\n[forward]\n'
                                 'loss = "np.sum(np.argmax(x @ W))"\n[claims]\nW = "W"\n')
    assert main(["audit", "spec.toml"]) == 2
    assert capsys.readouterr().err.strip() == shown


def test_the_spec_module_docstring_example_is_right():
    import derivaudit as da
    from derivaudit.audits import spec as spec_module

    text = spec_module.__doc__
    block = text[text.index("    [shapes]"):text.index(":func:`load_spec`")]
    result = da.audit(tomllib.loads("\n".join(line[4:] for line in block.splitlines())))
    assert [c.verdict for c in result.claims] == ["correct (proved)", "correct (proved)"]
