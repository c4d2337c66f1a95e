"""The example notebook runs, and results display their reports inline."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def test_example_notebook_runs_and_shows_reports():
    notebook = nbformat.read(ROOT / "examples" / "gradient_check.ipynb", as_version=4)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    nbclient.NotebookClient(notebook, timeout=240, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "examples")}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    texts = [o["data"].get("text/plain", "") for o in outputs if "data" in o]
    htmls = [o["data"]["text/html"] for o in outputs if "data" in o and "text/html" in o["data"]]
    assert "['3.0301', '3.0001']" in texts
    assert "('wrong', 'chain rule without the inner derivative')" in [t.replace('"', "'") for t in texts] or \
        any("chain rule" in t for t in texts)
    reports = [h for h in htmls if "derivaudit-report" in h]
    assert len(reports) == 3  # the study page, the check and the audit
    assert "<svg" in reports[0] and "<math" in reports[1] and "sigmoid(w*x+b)" in reports[1]
    assert "Backprop audit" in reports[2]


def test_results_have_rich_display():
    import numpy as np

    import derivaudit as da

    check = da.check("x**3", claim="3*x")
    assert "<math" in check._repr_html_() and "3*x" in check._repr_html_()
    gradient = da.check_gradient(lambda w: float(np.sum(w ** 2)), lambda w: 2 * w, np.array([1.0, 2.0]))
    assert "fine" in gradient._repr_html_()
