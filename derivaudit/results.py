"""The one protocol every result of derivaudit follows, and the registry of its reports.

Every result type (:class:`~derivaudit.studies.result.StudyResult`,
:class:`~derivaudit.checks.results.CheckResult`,
:class:`~derivaudit.audits.results.AuditResult`,
:class:`~derivaudit.gradcheck.results.GradientCheckResult`,
:class:`~derivaudit.studies.result.SweepResult`) derives from :class:`Result`
and so answers the same questions the same way:

``verdict``
    One word of the one vocabulary (:mod:`derivaudit.verdicts`): a
    :class:`~derivaudit.verdicts.Verdict` for claims (check, audit, a
    study's claimed orders and stencils; :attr:`Verdict.MEASURED` for a study
    that claims nothing), a word of :data:`~derivaudit.verdicts.GRADIENT_WORDS`
    for a gradient check of code.
``exit_code``
    The command line's :class:`~derivaudit.verdicts.ExitCode`, read from the
    verdict and nothing else (:func:`exit_code_of`).
``ok``
    ``exit_code is ExitCode.OK``: a result cannot pass by one field and fail by another.
``summary()``, ``to_json()``, ``_repr_html_()``, ``write_csv(path)``, ``write_html(path)``
    The text, the ``derivaudit-report`` JSON document, the notebook view and
    the report files.

Results compute; reports render.  A result never imports
:mod:`derivaudit.reports` (``tests/test_architecture.py`` checks it, imports
inside functions included): the renderers are registered here by result
*class* (:func:`register`) when :mod:`derivaudit.reports.registry` is
imported, and :func:`renderer` loads that module by name the first time a
report is asked for, as pandas loads its plotting backend
(``pandas.plotting._core._load_backend``).  The import arrow stays
reports → results.

>>> from derivaudit.verdicts import Verdict
>>> exit_code_of(Verdict.WRONG), exit_code_of("fine"), exit_code_of("look again")
(<ExitCode.WRONG: 1>, <ExitCode.OK: 0>, <ExitCode.WRONG: 1>)
>>> exit_code_of(Verdict.INVALID)
<ExitCode.BAD_INPUT: 2>
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Callable

from derivaudit.verdicts import GRADIENT_WORDS, ExitCode, Verdict

__all__ = ["Result", "Renderers", "register", "renderer", "exit_code_of", "VOCABULARY"]

#: every verdict word a result may give: the claim verdicts, then the gradient bands
VOCABULARY: tuple = tuple(Verdict) + GRADIENT_WORDS

#: the module whose import registers every renderer (loaded by name: see the module docstring)
REPORTS_MODULE = "derivaudit.reports.registry"


def exit_code_of(verdict) -> ExitCode:
    """The exit code of a verdict word.

    ``WRONG`` → 1, ``UNDECIDED`` → 4 and ``INVALID`` → 2 (a claim that cannot be
    read: the input needs fixing); the gradient bands ``look again`` and
    ``bug`` → 1; everything else (proved, numerically, not differentiable at
    the point, measured, ``fine``, ``ok``) → 0.
    """
    if verdict is Verdict.WRONG or verdict in GRADIENT_WORDS[2:]:
        return ExitCode.WRONG
    if verdict is Verdict.UNDECIDED:
        return ExitCode.UNDECIDED
    if verdict is Verdict.INVALID:
        return ExitCode.BAD_INPUT
    if verdict not in VOCABULARY:
        raise ValueError(f"{verdict!r} is not a verdict of derivaudit.verdicts")
    return ExitCode.OK


@dataclass(frozen=True)
class Renderers:
    """How reports render one result class: each a function of the result.

    ``fragment`` gives the notebook ``<div>``, ``document`` the JSON
    document as Python data, ``text`` the summary (None when the result
    writes its own); ``write_csv`` and ``write_html`` write the report files,
    ``(result, path) -> pathlib.Path``.
    """

    fragment: Callable
    document: Callable
    write_csv: Callable
    write_html: Callable
    text: Callable | None = None


_REGISTRY: dict[type, Renderers] = {}


def register(cls: type, renderers: Renderers) -> None:
    """Register how reports render instances of ``cls`` (and of its subclasses)."""
    _REGISTRY[cls] = renderers


def renderer(result) -> Renderers:
    """The renderers of ``result``'s class (or of its nearest registered base class).

    Raises
    ------
    TypeError
        When no report is registered for it.
    """
    if not _REGISTRY:
        importlib.import_module(REPORTS_MODULE)
    for cls in type(result).__mro__:
        if cls in _REGISTRY:
            return _REGISTRY[cls]
    raise TypeError(f"no report for a {type(result).__name__}; expected a result of derivaudit "
                    "(study, check, audit, gradient check or sweep)")


class Result:
    """Base class of every result: the protocol in one place (module docstring).

    A subclass gives ``verdict`` (a property or a dataclass field: none is
    defined here, so a dataclass field needs no default) and, unless a
    renderer writes it, :meth:`summary`; the rest follows.
    """

    __slots__ = ()

    @property
    def exit_code(self) -> ExitCode:
        """The command line's code, from :attr:`verdict` (:func:`exit_code_of`)."""
        return exit_code_of(self.verdict)

    @property
    def ok(self) -> bool:
        """True exactly when :attr:`exit_code` is ``ExitCode.OK``."""
        return self.exit_code is ExitCode.OK

    def summary(self) -> str:
        """The result as readable text."""
        return self._render("text")

    def _render(self, what: str, *args, **kwargs):
        render = vars(renderer(self))[what]
        if render is None:
            raise NotImplementedError(f"no {what} renderer registered for {type(self).__name__}")
        return render(self, *args, **kwargs)

    def to_json(self) -> str:
        """The ``derivaudit-report`` JSON document (docs/reports.md) as text."""
        import json

        return json.dumps(self._render("document"), ensure_ascii=False, indent=2) + "\n"

    def _repr_html_(self) -> str:
        """The HTML report, shown inline by Jupyter."""
        return self._render("fragment")

    def write_csv(self, path: str | os.PathLike):
        """Write the CSV report (a folder path: one CSV per table + ``summary.csv``); returns the path."""
        return self._render("write_csv", path)

    def write_html(self, path: str | os.PathLike):
        """Write the self-contained HTML page; returns the path."""
        return self._render("write_html", path)
