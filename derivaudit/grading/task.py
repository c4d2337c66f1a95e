"""The task file of a grading batch: what was asked, and where the CSV keeps the answers.

A task is TOML (``derivaudit grade TASK.toml ANSWERS.csv``)::

    [task]
    title = "Homework 3, question 2"      # optional, heads the class page
    formula = "log(1 + exp(w*x + b))"
    wrt = "w"                             # or grad = ["w", "b"], or spec = "model.toml"
    order = 1                             # optional (with wrt)
    dps = 50                              # optional: digits of every comparison
    points = 24                           # optional: random points of the witness search
    seconds = 30                          # optional: budget of each distinct answer

    [columns]
    id = "student"                        # the CSV column naming the submission
    claim = "answer"                      # the CSV column holding the claimed derivative

A gradient task takes its claim from one column (components separated by
commas, as ``derivaudit check --grad``) or from one column per variable
(``[columns] w = "dw"``, ``b = "db"``).  A backprop task names an audit spec
(``spec = "model.toml"``, relative to the task file) and one column per
parameter (``W = "dW"``); each submission's columns replace the spec's
``[claims]``.

:func:`load_task` validates everything before a single answer is judged;
every problem is one :class:`~derivaudit.errors.SpecError` line naming the
file, the table and the key.  :attr:`GradeTask.digest` identifies what a
verdict depends on (the task, the spec's text and derivaudit's version), so
a journal of judged answers is reused only for the same task.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from derivaudit.errors import DerivauditError, SpecError
from derivaudit.limits import DEFAULT_LIMITS, Limits

__all__ = ["GradeTask", "load_task", "task_from_dict", "DEFAULT_ANSWER_SECONDS"]

#: budget of one distinct answer (a whole check or audit), seconds; strict because answers are untrusted
DEFAULT_ANSWER_SECONDS = 30.0

_TASK_KEYS = ("title", "formula", "wrt", "grad", "hessian", "spec", "order", "dps", "points", "seed",
              "seconds", "domain")
_KINDS = ("wrt", "grad", "hessian", "spec")


@dataclass(frozen=True)
class GradeTask:
    """One graded question: the formula (or spec), what is differentiated, the CSV's columns.

    ``kind`` is ``"derivative"`` (one ``wrt``), ``"gradient"`` (``grad``),
    ``"hessian"`` (``hessian``: one answer column holding the matrix as
    ``"row; row"``, entries separated by commas) or ``"spec"`` (a backprop audit).  ``claim_columns`` lists the CSV columns
    a submission's claim is read from, in order: one column, one per
    gradient variable, or one per spec parameter (``claim_names`` names
    what each column claims).
    """

    kind: str
    formula: str
    variables: tuple[str, ...]
    id_column: str
    claim_columns: tuple[str, ...]
    claim_names: tuple[str, ...] = ()
    order: int = 1
    dps: int = 50
    points: int = 24
    seed: int = 0
    seconds: float = DEFAULT_ANSWER_SECONDS
    title: str = ""
    source: str = "<task>"
    #: the spec's sections (spec tasks), with its [claims] removed
    spec: dict = field(default_factory=dict, compare=False, hash=False)
    spec_text: str = ""

    @property
    def limits(self) -> Limits:
        """The limits each answer is judged under: the defaults with this task's budget."""
        return Limits(check_seconds=self.seconds,
                      simplify_seconds=min(DEFAULT_LIMITS.simplify_seconds, self.seconds),
                      symbolic_seconds=min(DEFAULT_LIMITS.symbolic_seconds, self.seconds),
                      evaluate_seconds=min(DEFAULT_LIMITS.evaluate_seconds, self.seconds),
                      diagnosis_seconds=min(DEFAULT_LIMITS.diagnosis_seconds, self.seconds))

    @property
    def digest(self) -> str:
        """SHA-256 of everything a verdict depends on: the task, the spec text, derivaudit's version."""
        from derivaudit import __version__

        fields = {"kind": self.kind, "formula": self.formula, "variables": self.variables,
                  "names": self.claim_names, "order": self.order, "dps": self.dps,
                  "points": self.points, "seed": self.seed, "seconds": self.seconds,
                  "spec": self.spec_text, "version": __version__}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    @property
    def question(self) -> str:
        """What was asked, in one line (``d/dw of log(1 + exp(w*x + b))``)."""
        if self.kind == "spec":
            return f"the backprop gradients {', '.join(self.claim_names)} of {self.formula}"
        if self.kind == "gradient":
            return f"the gradient ({', '.join(self.variables)}) of {self.formula}"
        if self.kind == "hessian":
            return f"the Hessian in ({', '.join(self.variables)}) of {self.formula}"
        power = "" if self.order == 1 else f"^{self.order}"
        return f"d{power}/d{self.variables[0]}{power} of {self.formula}"


def _fail(source: str, where: str, message: str) -> SpecError:
    return SpecError(f"{source}: {where}: {message}")


def _text(table: dict, key: str, source: str, where: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, f"{where} {key}", f"must be non-empty text, not {value!r}")
    return value.strip()


def _whole(table: dict, key: str, default: int, low: int, high: int, source: str) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(source, f"[task] {key}", f"must be a whole number from {low} to {high}, not {value!r}")
    return value


def _seconds(table: dict, source: str) -> float:
    value = table.get("seconds", DEFAULT_ANSWER_SECONDS)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
        raise _fail(source, "[task] seconds", f"must be a number of seconds in (0, 3600], not {value!r}")
    return float(value)


def _kind(table: dict, source: str) -> str:
    given = [k for k in _KINDS if k in table]
    if len(given) != 1:
        raise _fail(source, "[task]", "give exactly one of wrt = \"x\", grad = [\"x\", \"y\"], "
                                      "hessian = [\"x\", \"y\"] or "
                                      f"spec = \"model.toml\" (found {', '.join(given) or 'none'})")
    return given[0]


def _variables(table: dict, kind: str, source: str) -> tuple[str, ...]:
    if kind == "wrt":
        return (_text(table, "wrt", source, "[task]"),)
    names = table[kind]
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise _fail(source, f"[task] {kind}", "must be a list of variable names, e.g. [\"w\", \"b\"]")
    if len(set(names)) != len(names):
        raise _fail(source, f"[task] {kind}", "names a variable twice")
    return tuple(n.strip() for n in names)


def _columns(raw: dict, kind: str, names: tuple[str, ...], source: str) -> tuple[str, tuple, tuple]:
    """``(id column, claim columns, what each claim column claims)`` from ``[columns]``."""
    table = raw.get("columns")
    if not isinstance(table, dict):
        raise _fail(source, "[columns]", "missing; map the CSV's columns, e.g. id = \"student\" and "
                                         "claim = \"answer\"")
    if "id" not in table:
        raise _fail(source, "[columns]", "no id; name the column identifying a submission, e.g. id = \"student\"")
    allowed = {"id", "claim"} | (set(names) if kind != "wrt" else set())
    for key in table:
        if key not in allowed:
            raise _fail(source, f"[columns] {key}", f"unknown key; the keys are {', '.join(sorted(allowed))}")
        _text(table, key, source, "[columns]")
    per_name = [n for n in names if n in table]
    if kind == "spec" or (kind == "grad" and per_name):
        missing = [n for n in names if n not in table]
        if missing or "claim" in table:
            what = "parameter" if kind == "spec" else "variable"
            raise _fail(source, "[columns]", f"give one column per {what} ({', '.join(names)}), e.g. "
                                             f"{names[0]} = \"d{names[0]}\"" +
                        (f"; missing {', '.join(missing)}" if missing else "; not claim as well"))
        return table["id"].strip(), tuple(table[n].strip() for n in names), names
    if "claim" not in table:
        raise _fail(source, "[columns]", "no claim; name the column holding the answer, e.g. claim = \"answer\"")
    return table["id"].strip(), (table["claim"].strip(),), ()


def _spec(path_text: str, base: Path, source: str, limits: Limits) -> tuple[dict, str, tuple, str]:
    """The spec's sections without [claims], its text, its parameters and its loss formula."""
    from derivaudit.audits.spec import load_spec

    path = (base / path_text) if not Path(path_text).is_absolute() else Path(path_text)
    try:
        text = path.read_text(encoding="utf-8")
        sections = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(source, "[task] spec", f"cannot read {path} ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise _fail(source, "[task] spec", f"{path} is not valid TOML: {exc}") from None
    sections.pop("claims", None)
    params = sections.get("params", {}).get("names") if isinstance(sections.get("params"), dict) else None
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params) or not params:
        raise _fail(source, "[task] spec", f"{path}: [params] names must list the parameters")
    # the spec must load on its own: a claim of the right shape for each parameter stands in
    loaded = load_spec({**sections, "claims": {p: f"0*{p}" for p in params}}, limits=limits)
    if loaded.malformed:  # a [backward] intermediate that cannot be evaluated would make every answer invalid
        raise _fail(source, "[task] spec", f"{path}: {loaded.malformed[0].message.removeprefix('<spec>: ')}")
    loss = sections.get("forward", {}).get("loss", "")
    return sections, text, tuple(params), f"loss = {loss}" if loss else str(path)


def task_from_dict(raw: dict, source: str = "<task>", base: Path = Path(".")) -> GradeTask:
    """A :class:`GradeTask` from the task file's tables (see the module docstring).

    Raises :class:`~derivaudit.errors.SpecError` naming the table and key at fault.

    >>> task = task_from_dict({"task": {"formula": "x**3", "wrt": "x"},
    ...                        "columns": {"id": "student", "claim": "answer"}})
    >>> task.kind, task.variables, task.claim_columns, task.question
    ('derivative', ('x',), ('answer',), 'd/dx of x**3')
    """
    for section in raw:
        if section not in ("task", "columns"):
            raise _fail(source, f"[{section}]", "unknown table; a task file has [task] and [columns]")
    table = raw.get("task")
    if not isinstance(table, dict):
        raise _fail(source, "[task]", "missing; give the formula and what it is differentiated by")
    for key in table:
        if key not in _TASK_KEYS:
            raise _fail(source, f"[task] {key}", f"unknown key; the keys are {', '.join(_TASK_KEYS)}")
    if "domain" in table:
        raise _fail(source, "[task] domain", "domains are not supported yet (derivaudit check has no "
                                             "domain option); write the domain into the formula")
    kind = _kind(table, source)
    limits = DEFAULT_LIMITS
    options = dict(order=_whole(table, "order", 1, 1, limits.max_derivative_order, source),
                   dps=_whole(table, "dps", 50, 5, 1000, source),
                   points=_whole(table, "points", 24, 1, 1000, source),
                   seed=_whole(table, "seed", 0, 0, 2**32 - 1, source), seconds=_seconds(table, source),
                   title=_text(table, "title", source, "[task]") if "title" in table else "", source=source)
    if kind == "spec":
        if "formula" in table:
            raise _fail(source, "[task] formula", "a spec task takes its model from the spec; remove formula")
        spec, text, params, loss = _spec(_text(table, "spec", source, "[task]"), base, source, limits)
        id_column, columns, names = _columns(raw, "spec", params, source)
        return GradeTask("spec", loss, params, id_column, columns, names, spec=spec, spec_text=text, **options)
    formula = _text(table, "formula", source, "[task]")
    variables = _variables(table, kind, source)
    if kind != "wrt" and options["order"] != 1:
        raise _fail(source, "[task] order", f"give order with wrt only ({kind} fixes the order)")
    _validate_formula(formula, variables, source)
    id_column, columns, names = _columns(raw, kind, variables, source)
    kinds = {"wrt": "derivative", "grad": "gradient", "hessian": "hessian"}
    return GradeTask(kinds[kind], formula, variables, id_column,
                     columns, names, **options)


def _validate_formula(formula: str, variables: tuple[str, ...], source: str) -> None:
    from derivaudit.lang.parse import parse_formula

    try:
        expr = parse_formula(formula)
    except DerivauditError as exc:
        raise _fail(source, "[task] formula", str(exc)) from None
    known = {s.name for s in expr.free_symbols}
    for name in variables:
        if name not in known:
            raise _fail(source, "[task]", f"the formula has no variable {name!r} (its variables: "
                                          f"{', '.join(sorted(known)) or 'none'})")


def load_task(path) -> GradeTask:
    """Read and validate a task file (TOML; see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    GradeTask

    Raises
    ------
    SpecError
        One line naming the file, the table and the key at fault.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    return task_from_dict(raw, str(path), path.parent)
