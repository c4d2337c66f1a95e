"""Resource limits applied to untrusted formulas.

Formulas come from people derivaudit does not trust (a teacher grading a
class feeds it every student's text), so each stage that can grow without
bound checks one of these limits and raises :class:`~derivaudit.errors.LimitExceeded`
with the limit's name and value.  Pass a custom :class:`Limits` to raise them.
The time limits are enforced by :class:`derivaudit.budgets.time_budget`; a
time of 0 means no budget.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds on input size, exact constants, precision and time."""

    #: longest formula text, in characters
    max_formula_length: int = 10_000
    #: deepest nesting of the formula's syntax tree
    max_depth: int = 100
    #: integer literals are at most 10**(this - 1): 101 digits, 10**100 passes, 10**100 + 1 does not
    max_literal_digits: int = 101
    #: largest number of decimal digits of a constant computed while parsing
    #: (``2**1000`` passes, ``9**9**9`` is refused before it is computed)
    max_constant_digits: int = 1_000
    #: largest |n| of an integer exponent applied to a non-constant base
    max_exponent: int = 1_000
    #: highest precision, in significant decimal digits
    max_dps: int = 10_000
    #: highest derivative order computed exactly
    max_derivative_order: int = 20
    #: largest expression (sympy tree nodes) a derivative may grow to
    max_expression_size: int = 50_000
    #: values met while evaluating a formula numerically stay within 10^±this
    #: (``exp(exp(exp(exp(x))))`` at x = 10 is refused, not computed for hours)
    max_value_digits: int = 1_000_000
    #: seconds one simplification attempt may take before it is abandoned
    simplify_seconds: float = 5.0
    #: seconds parsing or differentiating one formula may take
    symbolic_seconds: float = 10.0
    #: seconds one numeric evaluation (an exact value, a difference quotient) may take
    evaluate_seconds: float = 10.0
    #: seconds each diagnosis of a wrong claim may take (rebuilding the model "what if"); past it the
    #: diagnosis is reported as skipped and the verdict stands (generous: a busy machine must not
    #: change what is reported; set it low for untrusted input)
    diagnosis_seconds: float = 30.0
    #: wall-clock guard of each stage of an audit (loading, evaluating, certifying, proving): generous,
    #: so a slow or busy machine never turns a verdict into a refusal; the audit's work is bounded by
    #: ``max_graph_nodes`` and ``max_proof_nodes``.  Set it low (10) for untrusted batch input
    audit_seconds: float = 600.0
    #: distinct scalar nodes (sympy DAG, shared subtrees once) of an audit's model, forward pass
    #: and claims together: the work of one evidence pass is proportional to it
    max_graph_nodes: int = 2_000_000
    #: largest forward graph (distinct nodes) given to the symbolic proof; a larger model's claims get
    #: the certified numerical verdict, which states its points and digits
    max_proof_nodes: int = 5_000
    #: seconds a whole check (every component of a gradient claim) may take; components
    #: not decided by then are "undecided"
    check_seconds: float = 60.0

    def __post_init__(self):
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"Limits.{name} must be a number ≥ 0, not {value!r}")


DEFAULT_LIMITS = Limits()
