"""The committed sample reports are what examples/make_reports.py builds, on any machine.

Rebuilt into a temporary folder and compared with reports/: CSV files byte
for byte; HTML pages line for line except the version line(s) and the
inline SVG plots (matplotlib's SVG writer changes between its versions;
the numbers they draw are the tables' numbers, which are compared).  The
float64 page's measured rows depend on the CPU's vectorised NumPy
arithmetic, so there only their number and everything around them are compared.
"""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "reports"
#: a path of the machine that built a report
MACHINE_PATH = re.compile(r"(/home/|/Users/|/work/|/tmp/|/root/|[A-Z]:\\\\)")


def _make_reports():
    spec = importlib.util.spec_from_file_location("make_reports", ROOT / "examples" / "make_reports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("samples")
    _make_reports().build(folder)
    return folder


#: pages of float64 measurements: NumPy's vectorised ``x**3`` (and ``exp``, ...) rounds differently
#: on different CPUs (SIMD paths), so their table rows are compared by count, not digit for digit
FLOAT64_PAGES = ("cubic_float64.html",)
#: a table row of measured numbers
_NUMBER_ROW = re.compile(r'^<tr[^>]*><td class="text">[^<]*</td>.*<td class="num')


def _comparable(text: str, float64: bool = False) -> list[str]:
    text = re.sub(r"<svg.*?</svg>", "<svg/>", text, flags=re.S)
    lines = [line for line in text.splitlines() if not re.search(r"derivaudit \d+\.\d+", line)]
    if float64:
        lines = ["<tr>(measured row)</tr>" if _NUMBER_ROW.match(line) else line for line in lines]
    return lines


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix in (".csv", ".html"))


def test_samples_are_rebuilt_identically(rebuilt):
    assert _files(rebuilt) == _files(SAMPLES)
    for name in _files(SAMPLES):
        committed, fresh = (SAMPLES / name).read_text(), (rebuilt / name).read_text()
        if name.endswith(".csv"):
            assert fresh == committed, name
        else:
            float64 = name in FLOAT64_PAGES
            assert _comparable(fresh, float64) == _comparable(committed, float64), name


@pytest.mark.parametrize("name", ["cubic.html", "cubic_float64.html", "mlp_buggy.html"])
def test_samples_hold_no_machine_path(name):
    assert not MACHINE_PATH.search((SAMPLES / name).read_text()), name


def test_an_exact_stencil_is_never_below_theory():
    page = (SAMPLES / "cubic_float64.html").read_text()
    assert '<div class="verdict ok" id="verdict">converges as theory predicts</div>' in page
    assert "centered4" in page and "order below theory" not in page
