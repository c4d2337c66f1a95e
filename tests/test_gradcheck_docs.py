"""Every Python example of docs/gradcheck.md runs, in order, in one namespace (their asserts are the checks)."""

import importlib.util
import linecache
import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "gradcheck.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.S)


def test_the_page_has_examples():
    assert len(BLOCKS) >= 8


def test_every_example_runs(capsys):
    namespace = {"__name__": "gradcheck_docs"}
    for k, block in enumerate(BLOCKS):
        if block.startswith("# needs torch") and importlib.util.find_spec("torch") is None:
            continue
        name = f"docs/gradcheck.md example {k + 1}"
        # as for a file: the drop notes quote the source line
        linecache.cache[name] = (len(block), None, block.splitlines(keepends=True), name)
        code = compile(block, name, "exec")
        exec(code, namespace)  # the documentation's own examples, trusted text of this repository
    assert "x: relative difference" in capsys.readouterr().out


def test_torch_example_is_marked():
    marked = [b for b in BLOCKS if b.startswith("# needs torch")]
    assert len(marked) == 1 and "torch.autograd.Function" in marked[0]
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch not installed: its example is skipped")
