"""derivaudit: audit hand-derived derivatives exactly, and measure how
finite differences converge to them at arbitrary precision.

The public API is the short list in ``__all__``; everything else lives in
the sub-packages by product (``lang``, ``core``, ``studies``, ``checks``,
``audits``, ``gradcheck``, ``reports``).  Names are imported when first
used, so ``import derivaudit`` (and ``derivaudit --version``) stays cheap:
sympy, pandas and matplotlib load only when a function that needs them runs.

>>> import derivaudit as da
>>> result = da.study("theta**3", wrt="theta", at={"theta": 1}, eps=["1e-2"],
...                  schemes=["forward", "centered"], dps=30)
>>> [str(v) for v in result.table["approx"]]
['3.0301', '3.0001']
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it (relative to this package)
_EXPORTS = {
    "study": "studies.sweep", "StudyResult": "studies.result", "SweepResult": "studies.result",
    "Result": "results", "ExitCode": "verdicts", "fitted_orders": "studies.orders", "best_steps": "studies.orders",
    "predicted_best_steps": "studies.orders", "study_many": "studies.parallel",
    "StudyTask": "studies.parallel", "stencil": "core.stencils", "Stencil": "core.stencils",
    "custom_stencil": "core.custom_stencils",
    "check": "checks.check", "CheckResult": "checks.results", "Verdict": "verdicts",
    "audit": "audits.audit", "AuditResult": "audits.results", "load_spec": "audits.spec",
    "check_gradient": "gradcheck.gradient", "GradientCheckResult": "gradcheck.results",
    "check_layer": "gradcheck.layers", "check_jacobian": "gradcheck.jacobian",
    "check_hessian": "gradcheck.hessian", "check_hvp": "gradcheck.hessian",
    "write_csv": "reports.files", "write_html": "reports.files",
    "parse_formula": "lang.parse", "format_formula": "lang.printer",
    "DerivauditError": "errors", "LimitExceeded": "errors", "Limits": "limits",
}

__all__ = sorted(_EXPORTS) + ["testing"]


def __getattr__(name):
    if name == "testing":
        return import_module(".testing", __name__)
    if name not in _EXPORTS:
        raise AttributeError(f"module 'derivaudit' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
