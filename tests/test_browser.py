"""The HTML report opened in a real browser: headless Chromium from a file:// URL.

Skipped where no Chromium is installed (``.ci/run`` installs it on CI).  The
screenshot is saved next to the report in the test's temporary folder, and
also into ``$DERIVAUDIT_SCREENSHOTS`` when that is set, for a person to look at.
"""

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

import derivaudit as da

from test_report_audit import MISSING_MEAN

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")

#: writes what the browser laid out into the DOM, for --dump-dom to carry back
PROBE = """<script>
window.addEventListener("load", () => {
  const box = e => e.getBoundingClientRect();
  const boxes = [...document.querySelectorAll("svg")].map(box);
  const verdict = document.getElementById("verdict");
  // a fraction is typeset when its numerator sits above its denominator; a superscript when it is
  // raised above its base and set smaller
  const fractions = [...document.querySelectorAll("math mfrac")].map(f => {
    const [num, den] = [...f.children].map(box);
    return num.bottom <= den.top + 1 && num.height > 0 && den.height > 0;
  });
  const superscripts = [...document.querySelectorAll("math msup")].map(m => {
    const [base, sup] = [...m.children];
    return box(sup).bottom < box(base).bottom - 2 &&
           parseFloat(getComputedStyle(sup).fontSize) < parseFloat(getComputedStyle(base).fontSize);
  });
  const tables = [...document.querySelectorAll("table")].map(t => {
    const head = [...t.querySelectorAll("thead th")].map(th => th.textContent.trim());
    return [...t.querySelectorAll("tbody tr")].map(tr =>
      Object.fromEntries([...tr.children].map((td, i) => [head[i], td.textContent.trim()])));
  });
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    svgs: boxes.map(b => [b.width, b.height]),
    verdictColour: getComputedStyle(verdict).color,
    verdictSize: parseFloat(getComputedStyle(verdict).fontSize),
    maths: [...document.querySelectorAll("math")].map(m => [box(m).width, box(m).height]),
    fractions, superscripts, tables,
    typed: [...document.querySelectorAll("code.typed")].map(c => c.textContent),
  });
  document.body.appendChild(out);
});
</script>"""


def _run(profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
               "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inside, self.title, self.verdict, self.probe = None, "", "", ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "title" or attrs.get("id") in ("verdict", "probe"):
            self.inside = attrs.get("id", tag)

    def handle_endtag(self, tag):
        self.inside = None

    def handle_data(self, data):
        if self.inside:
            setattr(self, self.inside, getattr(self, self.inside) + data)


def _study_report(folder: Path) -> Path:
    table = da.study("theta**3", wrt="theta", at={"theta": 1}, eps="1e-1:1e-12:12", precision="float64")
    return da.write_html(table, folder / "cubic.html")


def _audit_report(folder: Path) -> Path:
    from derivaudit.audits.audit import audit

    spec = folder / "missing_mean.toml"
    spec.write_text(MISSING_MEAN)
    return da.write_html(audit(spec), folder / "missing_mean.html")


def _check_report(folder: Path) -> Path:
    result = da.check("log(1+exp(w*x+b))", wrt="w", claim="sigmoid(w*x+b)")
    return da.write_html(result, folder / "check.html")


def _buggy_mlp_sample(folder: Path) -> Path:
    """The committed sample (tests/test_samples.py keeps it what the code writes)."""
    page = folder / "mlp_buggy.html"
    shutil.copy(Path(__file__).resolve().parent.parent / "reports" / "mlp_buggy.html", page)
    return page


#: report maker, title start, verdict, its colour, number of plots
CASES = {
    "audit-sample": (_buggy_mlp_sample, "Backprop audit of mlp_2layer_buggy.toml", "wrong", (192, 57, 43), 6),
    "check": (_check_report, "Check of the claimed df/dw of f = log(1+exp(w*x+b))", "wrong", (192, 57, 43), 1),
    "study": (_study_report, "Convergence study of df/dtheta for f = theta**3", "converges as theory predicts",
              (30, 132, 73), 1),
    "audit": (_audit_report, "Backprop audit of missing_mean.toml", "wrong", (192, 57, 43), 3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_report_renders_in_chromium(tmp_path, case):
    make, title, verdict, colour, plots = CASES[case]
    report = make(tmp_path)

    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "\n</body>"),
                     encoding="utf-8")
    dumped = _run(tmp_path / "profile-dom", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = _Dom()
    dom.feed(dumped.stdout)
    assert dom.title.startswith(title)
    assert dom.verdict.strip() == verdict
    laid_out = json.loads(dom.probe)
    assert len(laid_out["svgs"]) == plots
    for width, height in laid_out["svgs"]:
        assert width > 50 and height > 50
    assert laid_out["verdictColour"] == "rgb({}, {}, {})".format(*colour)
    assert laid_out["verdictSize"] >= 30  # large
    _check_formulas_and_tables(case, laid_out)

    shot = tmp_path / f"{report.stem}.png"
    taken = _run(tmp_path / "profile-shot", "--window-size=1200,1600", f"--screenshot={shot}", report.as_uri())
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (1600, 1200)
    # not a blank page: a good share of the pixels are drawn, and the verdict's colour is among them
    assert (pixels.mean(axis=2) < 0.9).mean() > 0.02
    painted = np.all(np.abs(pixels - np.array(colour) / 255) < 0.06, axis=2)
    assert painted.sum() > 500
    keep = os.environ.get("DERIVAUDIT_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)


def _check_formulas_and_tables(case: str, laid_out: dict) -> None:
    """Typed text shown, MathML rendered (a fraction stacked, a superscript raised), headers true to cells."""
    if not case.startswith("audit"):  # audit claims are array formulas: shown as typed, not typeset
        assert laid_out["maths"] and all(w > 5 and h > 5 for w, h in laid_out["maths"])
        assert laid_out["superscripts"] and all(laid_out["superscripts"])
    if case == "check":
        assert "sigmoid(w*x+b)" in laid_out["typed"] and "log(1+exp(w*x+b))" in laid_out["typed"]
        assert laid_out["fractions"] and all(laid_out["fractions"])
    if case == "study":
        assert "theta**3" in laid_out["typed"]
    if case == "audit-sample":
        backward = [row for table in laid_out["tables"] for row in table if "intermediate" in row]
        assert [(r["intermediate"], r["verdict"], r["constant factor"], r["wrong entries"]) for r in backward] == \
            [("dZ2", "correct", "8", "none"), ("dZ1", "wrong", "–", "all 40")]
    for table in laid_out["tables"]:
        for row in table:
            if row.get("verdict", "").startswith("correct"):
                # a right claim or intermediate never lists wrong entries under that header
                assert row.get("wrong entries", "none") in ("none", "–", "-"), row
