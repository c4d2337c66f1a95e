"""derivaudit: audit hand-derived derivatives exactly, and measure how
finite differences converge to them at arbitrary precision."""

from .errors import (DerivauditError, DomainError, LimitExceeded, ParseError, ReportError,
                     ShapeError, SpecError, UnsafeExpressionError)
from .limits import DEFAULT_LIMITS, Limits
from .parse import format_formula, parse_constant, parse_formula
from .report import write_csv, write_html
from .stencils import Stencil, backward, centered, complex_step, forward, richardson, stencil, tensor_stencil
from .study import best_steps, fitted_orders, observed_order, parse_eps, predicted_best_steps, study
from .error_model import ErrorModel, float64_error_model
from .gradcheck import GradientCheckResult, check_gradient
from . import testing
from .symbolic import derivative, gradient, partial
from .parallel import StudyTask, study_many
from .check import CheckResult, ComponentResult, Diagnosis, Mistake, Verdict, check
from .equivalence import Comparison, compare_expressions
from .audit import AuditResult, ClaimResult, audit
from .spec import AuditSpec, load_spec

__version__ = "0.1.0"

__all__ = [
    "DerivauditError", "DomainError", "LimitExceeded", "ParseError", "ReportError", "ShapeError",
    "SpecError", "UnsafeExpressionError",
    "DEFAULT_LIMITS", "Limits",
    "format_formula", "parse_constant", "parse_formula",
    "Stencil", "backward", "centered", "forward", "stencil",
    "best_steps", "fitted_orders", "observed_order", "parse_eps", "study",
    "derivative", "gradient", "partial",
    "StudyTask", "study_many",
    "complex_step", "richardson", "tensor_stencil", "predicted_best_steps", "ErrorModel",
    "float64_error_model", "GradientCheckResult", "check_gradient", "testing",
    "write_csv", "write_html",
    "check", "CheckResult", "ComponentResult", "Diagnosis", "Mistake", "Verdict",
    "Comparison", "compare_expressions",
    "audit", "AuditResult", "ClaimResult", "AuditSpec", "load_spec",
]
