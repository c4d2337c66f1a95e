"""Why a gradient disagrees: the likely mistake behind the wrong entries, and the suspects that are not bugs.

:func:`suggest_cause` reads the pattern of the wrong entries (transposed,
sign flip, one constant factor, missing or spurious terms, confined to some
rows).  :func:`circumstances` names what makes a float64 check unreliable
rather than the gradient wrong: ``f`` not deterministic, a kink within the
step, float32 arithmetic, code that dropped from balls to float64.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["suggest_cause", "describe_indices", "circumstances", "NEGLIGIBLE"]

#: an entry whose difference is below this fraction of ‖g‖ + ‖n‖ cannot move the metric; never "wrong"
NEGLIGIBLE = 1e-10


def describe_indices(indices: Sequence, limit: int = 4) -> str:
    """``(1, 2), (3, 0) and 5 more``."""
    shown = ", ".join(str(i) for i in indices[:limit])
    return shown + (f" and {len(indices) - limit} more" if len(indices) > limit else "")


def _close(a, b, tol, scale) -> bool:
    return bool(np.all(np.abs(a - b) <= 10 * tol + 1e-6 * (np.abs(a) + np.abs(b)) + NEGLIGIBLE * scale))


def _layout_cause(g: np.ndarray, n: np.ndarray, tol, scale) -> str:
    # a transformation that leaves g as it is (a symmetric matrix, a column vector) proves nothing
    if g.ndim == 2 and g.shape[0] == g.shape[1] and not np.array_equal(g.T, g) and _close(g.T, n, tol, scale):
        return "transposed: grad_f returns the transpose of the gradient (e.g. x.T @ δ where δ.T @ x belongs)"
    reordered = g.reshape(g.shape[::-1]).T if g.ndim >= 2 else g
    if g.ndim >= 2 and not np.array_equal(reordered, g) and _close(reordered, n, tol, scale):
        return ("the right values in the wrong order: the gradient was computed for the transposed "
                "parameter and reshaped, not transposed back")
    return ""


def _factor_cause(gw, nw, tw, where: str, everywhere: bool, scale) -> str:
    usable = np.abs(nw) > 10 * tw
    if not usable.any():
        return ""
    ratios = gw[usable] / nw[usable]
    c = float(np.median(ratios))
    # each ratio is as certain as its reference entry: 1e-4, or the entry's own uncertainty if larger
    allowed = abs(c) * (1e-4 + 10 * tw[usable] / np.abs(nw[usable]))
    if c == 0 or not np.all(np.abs(ratios - c) <= allowed) or not _close(gw, c * nw, tw, scale):
        return ""
    # enough digits to tell the factor from 1 ("off by a constant factor 1" names nothing)
    shown = next((text for text in (f"{c:.6g}", f"{c:.15g}", repr(c)) if text != "1"), "")
    if not shown or c == 1:
        return ""
    lead = f"every entry is {shown} × the true gradient: " if everywhere else ""
    return (f"{lead}off by a constant factor {shown} at {where} (a missing 1/N of a mean, "
            "a factor 2 of a square, or a scaled learning signal)")


def suggest_cause(analytic: np.ndarray, numeric: np.ndarray, wrong: Sequence[tuple[int, ...]],
                  uncertainty: np.ndarray | float = 0.0) -> str:
    """A likely reason why ``analytic`` differs from ``numeric`` at the ``wrong`` entries.

    Tried in order: transposed (or reshaped in the wrong memory order), sign
    flip, one constant factor, zero where the numeric gradient is not (a
    missing term), non-zero where it is zero (a spurious term), wrong entries
    confined to some rows or columns, then a generic wrong term.

    >>> suggest_cause(np.array([2.0, 4.0]), np.array([1.0, 2.0]), [(0,), (1,)])[:40]
    'every entry is 2 × the true gradient: of'
    """
    if not wrong:
        return ""
    g, n = np.asarray(analytic, float), np.asarray(numeric, float)
    tol = np.broadcast_to(np.asarray(uncertainty, float), n.shape)
    scale = np.linalg.norm(g) + np.linalg.norm(n)
    layout = _layout_cause(g, n, tol, scale)
    if layout:
        return layout
    mask = np.zeros(g.shape, bool)
    for index in wrong:
        mask[index] = True
    gw, nw, tw = g[mask], n[mask], tol[mask]
    where = "all entries" if mask.all() else f"entries {describe_indices(list(wrong))}"
    if _close(gw, -nw, tw, scale):
        return (f"sign flip at {where}: the analytic values are the negatives of the numeric ones "
                "(a missing minus, or the gradient of −f)")
    factor = _factor_cause(gw, nw, tw, where, bool(mask.all()), scale)
    if factor:
        return factor
    if np.all(gw == 0):
        return f"the analytic gradient is zero at {where}, where the numeric one is not: a missing term"
    if np.all(np.abs(nw) <= 10 * tw + NEGLIGIBLE * scale):
        return f"f does not change with {where}, but the analytic gradient is non-zero there: a spurious term"
    if not mask.all():
        detail = f"only {mask.sum()} of {mask.size} entries are wrong"
        if g.ndim >= 2:
            rows = sorted({i[0] for i in wrong})
            cols = sorted({i[-1] for i in wrong})
            if len(rows) < g.shape[0]:
                detail += f", all in row(s) {', '.join(map(str, rows))}"
            elif len(cols) < g.shape[-1]:
                detail += f", all in column(s) {', '.join(map(str, cols))}"
        return f"{detail}: the term for those parameters (one layer, a bias, a boundary case) is wrong"
    return "the differences vary from entry to entry: a wrong or missing term in the gradient formula"


def circumstances(*, nondeterministic: bool = False, kinks: Sequence = (), float32: Sequence[str] = (),
                  dropped: str = "") -> list[str]:
    """Reasons, other than a wrong formula, for a float64 check to disagree (most telling first)."""
    reasons = []
    if dropped:
        reasons.append(f"precision='mp' fell back to float64: {dropped} (keep the code in NumPy arithmetic "
                       "on its arrays to check it at full precision)")
    if nondeterministic:
        reasons.append("f is not deterministic: it returned different values for the same θ "
                       "(random numbers, dropout or sampling inside f); fix the seed before checking")
    if kinks:
        reasons.append(f"a kink within the step of entries {describe_indices(list(kinks))}: the left and right "
                       "differences disagree there (relu, abs, max at θ); move θ off the kink or use precision='mp'")
    if float32:
        reasons.append(f"float32 inputs ({', '.join(float32)}): float32 differences are good to ~1e-3 only; "
                       "they were checked in float64 — pass float64 arrays or use precision='mp'")
    return reasons
