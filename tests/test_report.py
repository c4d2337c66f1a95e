"""CSV and HTML reports of study tables; atomic writes; progress reporting."""

import io
import os
import stat
from html.parser import HTMLParser
from pathlib import Path

import mpmath
import pandas as pd
import pytest

import derivaudit as da
from derivaudit.reports import files, tables, text
from derivaudit.cli import main
from derivaudit.errors import ReportError
from derivaudit.progress import Progress, terminal_progress


@pytest.fixture(scope="module")
def cubic():
    return da.study("theta**3", wrt="theta", at={"theta": 1}, eps="1e-1:1e-6:6", dps=50)


@pytest.fixture(scope="module")
def cubic64():
    return da.study("theta**3", wrt="theta", at={"theta": 1}, eps="1e-1:1e-12:12", precision="float64")


class Page(HTMLParser):
    """Collects what the structural tests look at."""

    def __init__(self):
        super().__init__()
        self.tags, self.refs, self.text, self.stack = [], [], [], []
        self.title = ""
        self.verdict = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.stack.append((tag, attrs))
        for key in ("src", "href", "xlink:href", "data"):
            if attrs.get(key):
                self.refs.append((tag, attrs[key]))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        self.text.append(data)
        if self.stack and self.stack[-1][0] == "title":
            self.title += data
        if self.stack and "verdict" in (self.stack[-1][1].get("class") or "").split():
            self.verdict += data


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def written_page(result, path: Path) -> tuple[str, Page]:
    """Write the HTML report of ``result`` to ``path``; its text and parse, checked self-contained."""
    text = da.write_html(result, path).read_text(encoding="utf-8")
    page = parse(text)
    assert_self_contained(text, page)
    return text, page


def assert_self_contained(text: str, page: Page):
    assert "<svg" in text and "svg" in page.tags
    for tag, ref in page.refs:
        assert not ref.startswith(("http://", "https://", "//")), (tag, ref)
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert "url(http" not in text and "@import" not in text


# --- CSV -------------------------------------------------------------------------------------

def test_csv_round_trips_every_digit_and_float_columns(tmp_path, cubic):
    path = da.write_csv(cubic, tmp_path / "cubic.csv")
    text = pd.read_csv(path, dtype=str, keep_default_na=False)
    floats = pd.read_csv(path)
    assert len(text) == len(cubic.table) == 12
    # the f64 column sits right after its text column
    columns = list(text.columns)
    assert columns[columns.index("abs_error") + 1] == "abs_error_f64"
    with mpmath.workdps(50):
        for i, row in cubic.table.iterrows():
            assert mpmath.mpf(text.approx[i]) == row.approx
            assert mpmath.mpf(text.abs_error[i]) == row.abs_error
            assert floats.abs_error_f64[i] == float(row.abs_error)
    forward = text[text.scheme == "forward"]
    assert forward.approx.tolist()[-1] == "3.000003000001"
    assert forward.abs_error.tolist()[-1] == "3.000001e-6"
    assert floats.observed_order[1] == pytest.approx(1.0128, abs=1e-4)


def test_csv_folder_target_gets_table_and_summary(tmp_path, cubic):
    folder = da.write_csv(cubic, tmp_path / "out" / "cubic")
    assert sorted(p.name for p in folder.iterdir()) == ["study.csv", "summary.csv"]
    summary = pd.read_csv(folder / "summary.csv")
    assert summary.scheme.tolist() == ["forward", "centered"]
    assert summary.fitted_order.tolist() == pytest.approx([1.0, 2.0], abs=0.01)
    assert summary.theoretical_order.tolist() == [1, 2]
    assert summary.best_eps_f64.tolist() == [1e-6, 1e-6]
    assert pd.read_csv(folder / "study.csv").shape[0] == 12


def test_csv_into_existing_file_as_folder_is_an_error(tmp_path, cubic):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="it is a file"):
        da.write_csv(cubic, str(blocker) + "/")
    assert blocker.read_text() == "x"


def test_scientific_notation():
    assert text.scientific(0.0301) == "3.010e-02"
    with mpmath.workdps(60):
        assert text.scientific(mpmath.mpf("1e-500")) == "1.000e-500"
        assert text.scientific(mpmath.mpf("9.99996e-5")) == "1.000e-04"
    assert text.scientific(mpmath.mpf(0)) == "0"
    assert text.scientific(float("nan")) == ""


# --- HTML ------------------------------------------------------------------------------------

def test_study_html_is_self_contained_and_holds_the_results(tmp_path, cubic):
    path = da.write_html(cubic, tmp_path / "cubic.html")
    text = path.read_text(encoding="utf-8")
    page = parse(text)
    assert page.title.startswith("Convergence study of df/dtheta for f = theta**3")
    assert page.verdict.strip() == "converges as theory predicts"
    body = " ".join(page.text)
    for value in ("3.0301", "3.010e-02", "3.000e-06", "1.000e-12", "1.0128", "2.0000", "3*theta**2", "θ", "theta = 1",
                  "50 significant digits"):
        assert value in body, value
    assert_self_contained(text, page)
    assert text.count("<svg") == 1


def test_float64_html_marks_roundoff_floor_and_best_step(tmp_path, cubic64):
    text = da.write_html(cubic64, tmp_path / "v.html").read_text(encoding="utf-8")
    page = parse(text)
    assert_self_contained(text, page)
    body = " ".join(page.text)
    assert "roundoff floor" in body and "V-curve" in body
    best = tables.study_summary(cubic64)
    assert best.best_eps.tolist() == [1e-8, 1e-6]
    # the best rows are shaded, and the orders left of the V are flagged as off-theory
    assert text.count('<tr class="best">') == 2
    assert 'class="num off"' in text


def test_order_below_theory_is_the_verdict(tmp_path):
    table = da.study("x**(3/2)", at={"x": 0}, eps="1e-1:1e-8:8", schemes=["forward"])
    page = parse(da.write_html(table, tmp_path / "root.html").read_text(encoding="utf-8"))
    assert page.verdict.strip() == "order below theory"
    assert "fitted order 0.50, theory 1" in " ".join(page.text)


def test_html_needs_the_study_result(tmp_path, cubic):
    bare = cubic.table.copy()
    with pytest.raises(TypeError, match="pass the StudyResult derivaudit.study returned"):
        da.write_html(bare, tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_html_target_must_be_a_file(tmp_path, cubic):
    with pytest.raises(ReportError, match="an HTML report is one file"):
        da.write_html(cubic, str(tmp_path / "reports") + "/")
    assert not (tmp_path / "reports").exists()


def test_unknown_result_type_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="no report for a dict"):
        da.write_html({}, tmp_path / "x.html")


# --- atomic writes ---------------------------------------------------------------------------

def _leftovers(folder: Path):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_mid_write_keeps_the_earlier_report(tmp_path, cubic, monkeypatch, failure):
    path = tmp_path / "cubic.html"
    da.write_html(cubic, path)
    before = path.read_bytes()
    real_write = files.write_text_file

    def half_write(target, text):
        """Writes half of the text, then fails."""
        real_write(target, text[: len(text) // 2])
        raise failure

    monkeypatch.setattr(files, "write_text_file", half_write)
    table = da.study("theta**4", wrt="theta", at={"theta": 2}, eps="0.1,0.01")
    if isinstance(failure, OSError):
        with pytest.raises(ReportError, match="No space left"):
            da.write_html(table, path)
    else:
        with pytest.raises(KeyboardInterrupt):
            da.write_html(table, path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_failed_render_never_touches_the_target(tmp_path, cubic, monkeypatch):
    path = tmp_path / "cubic.html"
    path.write_text("earlier report")
    import derivaudit.reports.html as html_report

    def broken(result):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(html_report, "render", broken)
    with pytest.raises(RuntimeError):
        da.write_html(cubic, path)
    assert path.read_text() == "earlier report"
    assert _leftovers(tmp_path) == []


def test_written_files_have_ordinary_permissions(tmp_path, cubic):
    old = os.umask(0o022)
    try:
        fresh = da.write_csv(cubic, tmp_path / "fresh.csv")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        fresh.chmod(0o600)
        da.write_csv(cubic, fresh)
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    finally:
        os.umask(old)


# --- CLI -------------------------------------------------------------------------------------

def test_cli_study_writes_html_and_csv_into_new_folders(tmp_path, capsys):
    html, csv = tmp_path / "a" / "cubic.html", tmp_path / "b" / "c" / "cubic.csv"
    code = main(["study", "theta**3", "--wrt", "theta", "--at", "theta=1", "--eps", "1e-1:1e-4:4",
                 "--html", str(html), "--csv", str(csv)])
    out = capsys.readouterr()
    assert code == 0 and out.err == ""
    assert f"wrote {html}" in out.out and f"wrote {csv}" in out.out
    assert parse(html.read_text(encoding="utf-8")).verdict.strip() == "converges as theory predicts"
    assert pd.read_csv(csv).shape == (8, 18)  # error_radius and error_radius_f64


def test_cli_unwritable_html_is_exit_2_and_keeps_nothing_half_written(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["study", "x**2", "--at", "x=1", "--html", str(blocker / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("derivaudit: error: cannot write") and len(err.strip().splitlines()) == 1
    assert blocker.read_text() == "not a folder"


# --- progress --------------------------------------------------------------------------------

def test_study_reports_progress_per_step():
    calls = []
    da.study("x**2", at={"x": 1}, eps="0.1,0.01,0.001", schemes=["forward", "centered"],
             progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 6) for k in range(1, 7)]


def test_terminal_progress_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert terminal_progress(stream=Tty()) is True
    assert terminal_progress(quiet=True, stream=Tty()) is False
    assert terminal_progress(stream=io.StringIO()) is False


def test_progress_bar_draws_on_stderr_after_its_delay(monkeypatch, capsys):
    monkeypatch.setattr("derivaudit.progress._DELAY", 0)
    bar = Progress(True, 3, "study")
    bar()
    bar(2)
    assert bar.done == 3
    assert "study:" in capsys.readouterr().err
    quiet = Progress(None, 3, "study")
    quiet(3)
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError):
        Progress("yes", 1, "x")
