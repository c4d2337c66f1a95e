"""Judging one distinct answer: the verdict of ``check`` (or ``audit``), as plain data.

:func:`judge` takes the task and an answer's normalised text(s) and returns
a :class:`Judgement` — strings and one float, picklable, small enough for a
journal line — whatever the answer is:

- text the safe parser refuses (syntax, unsafe constructs, limits, unknown
  variables, the wrong number of components) is ``invalid``, with the
  parser's one-line reason;
- otherwise the answer is parsed once and handed, as a sympy expression, to
  the public :func:`derivaudit.check` (a spec task's columns become the
  spec's ``[claims]`` for :func:`derivaudit.audit`) under the task's
  budget (:attr:`~derivaudit.grading.task.GradeTask.limits`); its verdict is
  the answer's.  A limit met while judging makes it ``undecided`` with the
  reason.

Within a process, the task's formula (validated when the task file was
read) has its exact derivative cached by :mod:`derivaudit.core.symbolic`, and answers
whose parsed formulas and typed domains are identical (``2*x``, ``x*2``,
``x + x``; not ``2*exp(log(x))``, which parses to ``2*x`` but is undefined
for x ≤ 0) share one judgement: ``check`` reads the same expression on the
same domain either way, so the verdict is the same computation.  Nothing here depends on the rest of the batch, so an
answer gets the same verdict whatever batch, order or worker it is judged in.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import mpmath

from derivaudit.errors import DerivauditError, LimitExceeded, ParseError
from derivaudit.echo import escape_controls
from derivaudit.grading.task import GradeTask
from derivaudit.verdicts import INVALID, Verdict

__all__ = ["Judgement", "judge", "clear_caches"]

#: judgements remembered per process, by parsed formula (answers of one task repeat a lot)
_MEMO_SIZE = 20_000


@dataclass(frozen=True)
class Judgement:
    """The outcome for one distinct answer.

    ``verdict`` is the word of a :class:`~derivaudit.verdicts.Verdict` (as text, ``invalid``
    included: :data:`~derivaudit.verdicts.INVALID`); ``message`` says why for
    ``invalid`` and ``undecided``.  A wrong answer carries its witness: the
    exact point (``point``, name → exact value text), the claim's and the
    exact derivative's values there (all their certified digits) and, for a
    gradient or spec, which ``component`` it is.  ``mistake`` is the likely
    mistake's class (for grouping), ``likely_mistake`` its full text.
    """

    verdict: str
    message: str = ""
    point: tuple[tuple[str, str], ...] = ()
    claim_value: str = ""
    exact_value: str = ""
    component: str = ""
    mistake: str = ""
    likely_mistake: str = ""
    method: str = ""
    claim: str = ""
    exact: str = ""
    seconds: float = 0.0

    @property
    def wrong(self) -> bool:
        return self.verdict == Verdict.WRONG.value

    def to_dict(self) -> dict:
        """Plain JSON-ready fields (the journal's record)."""
        data = dataclasses.asdict(self)
        data["point"] = [list(p) for p in self.point]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Judgement:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["point"] = tuple(tuple(p) for p in values.get("point", ()))
        return cls(**values)


_MEMO: dict[tuple, Judgement] = {}


def clear_caches() -> None:
    """Forget the judgements (tests; a process judging another task keeps them, keyed by task)."""
    _MEMO.clear()


def _invalid(exc: Exception) -> Judgement:
    return Judgement(INVALID.value, message=escape_controls(exc))


def _text(value, dps: int) -> str:
    if value is None:
        return "undefined"
    with mpmath.workdps(dps):
        return mpmath.nstr(value, dps) if isinstance(value, mpmath.mpf) else str(value)


def _from_check(result) -> Judgement:
    """The judgement of a :class:`~derivaudit.checks.results.CheckResult`."""
    from derivaudit.lang.printer import format_formula

    verdict = result.verdict
    worst = next((c for c in result.components if c.verdict is verdict), result.components[0])
    comparison = worst.comparison
    fields = dict(verdict=str(verdict), method=escape_controls(comparison.method),
                  claim="; ".join(format_formula(c.claim) for c in result.components),
                  exact="; ".join(format_formula(c.exact) for c in result.components),
                  component=worst.label if len(result.components) > 1 else "")
    if verdict is Verdict.UNDECIDED:
        fields["message"] = escape_controls(comparison.method)
    if comparison.counterexample is not None:
        fields.update(point=tuple((k, str(v)) for k, v in comparison.counterexample.items()),
                      claim_value=_text(comparison.claim_value, result.dps),
                      exact_value=_text(comparison.exact_value, result.dps))
    if worst.diagnosis:
        fields.update(mistake=str(worst.diagnosis[0].mistake), likely_mistake=str(worst.diagnosis[0]))
    return Judgement(**fields)


def _from_audit(result) -> Judgement:
    """The judgement of an :class:`~derivaudit.audits.results.AuditResult` (a spec task)."""
    # an answer with a claim that cannot be read is invalid, whatever its other claims are
    order = (Verdict.INVALID, Verdict.WRONG, Verdict.UNDECIDED, Verdict.NUMERICAL, Verdict.PROVED)
    verdicts = [c.verdict for c in result.claims]
    verdict = next(v for v in order if v in verdicts)
    worst = next(c for c in result.claims if c.verdict is verdict)
    fields = dict(verdict=str(verdict), claim="; ".join(f"{c.parameter}: {c.claim}" for c in result.claims))
    if verdict is Verdict.INVALID:
        fields.update(message=escape_controls(worst.message), component=worst.parameter)
    if verdict is Verdict.UNDECIDED:
        fields.update(message=escape_controls(worst.reason), component=worst.parameter)
    if verdict is Verdict.WRONG:
        fields.update(point=tuple((k, str(v)) for k, v in worst.counterexample.items()), component=worst.parameter,
                      method=escape_controls(f"wrong entries of {worst.parameter}: {worst.wrong_description}"))
    if worst.diagnosis:
        fields.update(likely_mistake=escape_controls(worst.diagnosis[0]),
                      mistake=escape_controls(worst.diagnosis[0].split(":")[0].split(" — ")[0]))
    return Judgement(**fields)


def _judge_spec(task: GradeTask, texts: tuple[str, ...]) -> Judgement:
    from derivaudit.audits.audit import audit

    claims = dict(zip(task.claim_names, texts))
    try:
        result = audit({**task.spec, "claims": claims}, dps=task.dps, seed=task.seed, limits=task.limits)
    except LimitExceeded as exc:
        return Judgement(Verdict.UNDECIDED.value, message=escape_controls(f"stopped: {exc}"))
    except DerivauditError as exc:  # the claims' keys do not fit the task's spec
        return _invalid(exc)
    return _from_audit(result)  # a claim that cannot be read or evaluated: its verdict is invalid


def _judge_formula(task: GradeTask, texts: tuple[str, ...]) -> Judgement:
    from derivaudit.checks.check import check, split_claim
    from derivaudit.lang.parse import parse_formula, typed_domain

    if task.kind == "hessian":
        from derivaudit.checks.hessian import hessian_rows
        try:
            parts = [entry for row in hessian_rows(texts[0], len(task.variables)) for entry in row]
        except DerivauditError as exc:  # the wrong number of rows or entries
            return _invalid(exc)
    else:
        parts = split_claim(texts[0]) if len(texts) == 1 and task.kind == "gradient" else list(texts)
        if len(parts) != len(task.variables):
            return Judgement(INVALID.value, message=f"the answer has {len(parts)} components but the gradient "
                                                    f"has {len(task.variables)}; give one per variable, separated "
                                                    "by commas")
    try:
        claims = tuple(parse_formula(p, limits=task.limits) for p in parts)
        # the domain as typed is not in the sympy tree (2*exp(log(x)) parses to 2*x): answers share a
        # judgement only when both their trees and their typed domains agree
        domains = tuple(frozenset(typed_domain(p, limits=task.limits)) for p in parts)
    except (ParseError, LimitExceeded) as exc:
        return _invalid(exc)
    memo_key = (task.digest, claims, domains)
    if memo_key in _MEMO:
        return _MEMO[memo_key]
    options = {"gradient": dict(grad=list(task.variables), claim=list(parts)),
               "hessian": dict(hessian=list(task.variables), claim=texts[0])}.get(
        task.kind, dict(wrt=task.variables[0], order=task.order, claim=parts[0]))
    try:
        # text, not trees, so that check reads the formula's and the claim's domains as typed
        result = check(task.formula,
                       dps=task.dps, limits=task.limits, points=task.points, seed=task.seed, **options)
    except LimitExceeded as exc:
        judgement = Judgement(Verdict.UNDECIDED.value, message=escape_controls(f"stopped: {exc}"))
    except DerivauditError as exc:  # a claim in variables the formula lacks, and the like
        judgement = _invalid(exc)
    else:
        judgement = _from_check(result)
    if len(_MEMO) < _MEMO_SIZE:
        _MEMO[memo_key] = judgement
    return judgement


def judge(task: GradeTask, texts: tuple[str, ...]) -> Judgement:
    """The judgement of one distinct answer (its normalised claim texts, one per claim column).

    Parameters
    ----------
    task : GradeTask
    texts : tuple of str
        The answer as :func:`~derivaudit.grading.normalise.answer_key` gives it.

    Returns
    -------
    Judgement
        With ``seconds`` the time this call took.  Never raises for anything
        an answer can contain: a bug of derivaudit's met while judging is
        ``undecided`` with "internal error" in its message, so no row is lost.

    >>> from derivaudit.grading.task import task_from_dict
    >>> task = task_from_dict({"task": {"formula": "x**3", "wrt": "x"},
    ...                        "columns": {"id": "student", "claim": "answer"}})
    >>> judge(task, ("3 * x ** 2",)).verdict, judge(task, ("x ** 3",)).mistake
    ('correct (proved)', 'wrong derivative order')
    >>> j = judge(task, ("__import__ ( 'os' )",)); j.verdict, j.message[:40]
    ('invalid', "name '__import__' is not allowed (dunder")
    """
    start = time.perf_counter()
    try:
        if task.kind == "spec":
            judgement = _judge_spec(task, texts)
        else:
            judgement = _judge_formula(task, texts)
    except RecursionError:
        judgement = Judgement(INVALID.value, message="the answer is too deeply nested to read")
    except MemoryError:
        judgement = Judgement(Verdict.UNDECIDED.value, message="stopped: judging it ran out of memory")
    except Exception as exc:  # noqa: BLE001 - a bug of ours must not lose the row; it is reported as such
        judgement = Judgement(Verdict.UNDECIDED.value, message=escape_controls(
            f"internal error (a bug of derivaudit's; please report it): {type(exc).__name__}: {exc}"))
    return dataclasses.replace(judgement, seconds=time.perf_counter() - start)
