"""One verdict vocabulary for the whole package, defined once.

Claims (``check``, ``audit``) get a :class:`Verdict`; gradient checks of
code get a relative difference

.. math:: r = \\frac{\\lVert g - n \\rVert}{\\lVert g \\rVert + \\lVert n \\rVert}

(``g`` the claimed gradient, ``n`` the reference) and one word for its band
from :data:`GRADIENT_BANDS`.  The command line maps outcomes to
:class:`ExitCode`.  Reports, the CLI and the README use these words and
nothing else.

>>> gradient_band(3e-9), gradient_band(2e-6), gradient_band(4e-4), gradient_band(0.5)
('fine', 'ok', 'look again', 'bug')
>>> relative_difference([1.0, 2.0], [1.0, 2.0])
0.0
>>> str(Verdict.WRONG), int(ExitCode.UNDECIDED), INVALID == "invalid"
('wrong', 4, True)
"""

from __future__ import annotations

import enum
import math

__all__ = ["Verdict", "INVALID", "ExitCode", "GRADIENT_BANDS", "GRADIENT_WORDS", "ORDER_TOLERANCE", "gradient_band",
           "relative_difference"]


class Verdict(str, enum.Enum):
    """The verdict on one claimed derivative (its value is the text shown)."""

    #: ``claim − exact`` simplifies to 0
    PROVED = "correct (proved)"
    #: certified equal to ``dps`` digits at every point of the witness search (the result
    #: states the region, the number of points and the precision); not reduced to 0
    NUMERICAL = "correct (numerically)"
    #: a counterexample point exists
    WRONG = "wrong"
    #: the evidence decided neither way (values unresolved, budget spent): the result says why
    UNDECIDED = "undecided"
    #: the claim is not a formula the tool can judge (unreadable, an unknown name, a shape error,
    #: past a limit): its message says what, where and how to fix it (exit code 2)
    INVALID = "invalid"
    #: the point given as ``at`` is a kink: left and right derivatives differ (or diverge)
    NOT_DIFFERENTIABLE = "not differentiable at the point"
    #: a study that claims nothing (no claimed order, no stencil of the user's): its table is
    #: the evidence, there is no claim to judge (exit code 0)
    MEASURED = "measured (no claim)"
    #: a grading batch that ran (``derivaudit grade``): the students' verdicts are its rows, each
    #: one of the words above or :data:`INVALID` (exit code 0, whatever they are)
    GRADED = "graded (the batch ran)"

    def __str__(self) -> str:
        return self.value

    @property
    def correct(self) -> bool:
        """True for the two "correct" verdicts."""
        return self in (Verdict.PROVED, Verdict.NUMERICAL)


#: the verdict on a claim that is not a formula the tool accepts: a submitted answer (``derivaudit
#: grade``) unreadable, unsafe, past a limit, or in variables the task does not have; an audit's
#: claim that cannot be read or evaluated.  One word: it is :attr:`Verdict.INVALID`
INVALID = Verdict.INVALID


class ExitCode(enum.IntEnum):
    """Exit codes of the command line."""

    OK = 0            #: every claim correct (or no claim)
    WRONG = 1         #: at least one claim wrong
    BAD_INPUT = 2     #: the input could not be used (or a claim of it: invalid); one line says what, where and how to fix it
    INTERNAL = 3      #: a bug of ours
    UNDECIDED = 4     #: no claim wrong, at least one undecided


#: a measured order of convergence agrees with a claimed or theoretical one when within this:
#: orders of stencils are whole numbers, so a wrong claim is off by 1 or more, and a fit over
#: steps in the asymptotic range is off by far less (textbook schemes: under 0.05)
ORDER_TOLERANCE = 0.25

#: upper bounds of the relative-difference bands of a gradient check, and their words;
#: a difference at or above the last bound is a ``bug``
GRADIENT_BANDS: tuple[tuple[float, str], ...] = ((1e-7, "fine"), (1e-5, "ok"), (1e-3, "look again"))
#: every word a gradient check can give, best first
GRADIENT_WORDS: tuple[str, ...] = tuple(word for _, word in GRADIENT_BANDS) + ("bug",)


def gradient_band(relative: float, bounds: tuple[float, float, float] | None = None) -> str:
    """The word for a relative difference.

    Parameters
    ----------
    relative : float
        ``‖g − n‖ / (‖g‖ + ‖n‖)``; NaN or infinity is a ``bug``.
    bounds : tuple of three floats, optional
        Upper bounds of ``fine``, ``ok`` and ``look again`` (default: those of
        :data:`GRADIENT_BANDS`; an audit spec may set its own).

    Returns
    -------
    str
        One of :data:`GRADIENT_WORDS`.
    """
    limits = bounds if bounds is not None else tuple(bound for bound, _ in GRADIENT_BANDS)
    if not math.isfinite(relative):
        return GRADIENT_WORDS[-1]
    for bound, word in zip(limits, GRADIENT_WORDS):
        if relative < bound:
            return word
    return GRADIENT_WORDS[-1]


def relative_difference(claimed, reference, difference=None) -> float:
    """``‖g − n‖₂ / (‖g‖₂ + ‖n‖₂)`` as a float, 0 when both are zero.

    Symmetric, scale-free and at most 1; ``g`` and ``n`` are array-likes of the
    same shape.  ``difference``, when given, is ``g − n`` formed more exactly
    than in floats (from balls): two gradients equal to 50 digits then differ
    by ``1e-60``, not by the ``1e-17`` their float64 roundings would leave.

    >>> relative_difference([1.0, 2.0], [1.0, 2.0]), relative_difference([1.0], [3.0])
    (0.0, 0.5)
    >>> relative_difference([1.0], [1.0], difference=[2e-60])
    1e-60
    """
    import numpy as np

    g = np.asarray(claimed, dtype=float)
    n = np.asarray(reference, dtype=float)
    d = g - n if difference is None else np.asarray(difference, dtype=float)
    scale = np.linalg.norm(g) + np.linalg.norm(n)
    return 0.0 if scale == 0 else float(np.linalg.norm(d) / scale)
