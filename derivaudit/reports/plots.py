"""Plots for the HTML reports, as inline SVG text.

Figures are built with :class:`matplotlib.figure.Figure` directly — never
through ``pyplot`` — so no GUI backend, no global figure registry and no
state shared between reports; ``savefig(format="svg")`` renders them with
matplotlib's own SVG backend (the raster Agg backend is never needed).

Errors span hundreds of decades at high precision (an error of 10⁻⁴⁰⁰
underflows a float), so the convergence plot draws ``log10|error|`` against
``log10 ε`` computed by mpmath on linear axes labelled as powers of ten: a
scheme of order ``p`` is a straight line of slope ``p``.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence

import matplotlib
import matplotlib.patches
import mpmath
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from derivaudit.constants import UNIT_ROUNDOFF
from derivaudit.studies.orders import log10_abs

__all__ = ["figure_svg", "convergence_svg", "heatmap_svg", "seconds_svg"]

#: reference slopes drawn faintly behind the data
REFERENCE_SLOPES = (1, 2, 4)
#: outline of wrong entries in a heat-map: dark blue stands out on the red colour scale
WRONG_OUTLINE = "#1f3a93"


def figure_svg(fig: Figure, salt: str, label: str) -> str:
    """The figure as an ``<svg>`` element for inlining into HTML.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    salt : str
        Makes matplotlib's element ids unique within one page (several plots
        share a document) and repeatable between runs.
    label : str
        The accessible name of the image.

    Returns
    -------
    str
        The ``<svg>`` element, without XML prolog, metadata or date.
    """
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None},
                    bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    # the RDF metadata block only names namespaces by URL; a page that must not even mention
    # remote addresses is better without it
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    return text.replace("<svg ", f'<svg role="img" aria-label="{_attr(label)}" ', 1)


def _attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def _power_axis(axis) -> None:
    axis.set_major_locator(MaxNLocator(integer=True, nbins=8))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"$10^{{{int(round(v))}}}$"))


def convergence_svg(series: Sequence[dict], *, title: str = "", floor: dict | None = None,
                    salt: str = "convergence", xlabel: str = "step ε", ylabel: str = "|error|") -> str:
    """Log–log plot of |error| against ε, one line per scheme, as SVG text.

    Errors span hundreds of decades at high precision, so ``log10|error|``
    is computed by mpmath and drawn on linear axes labelled as powers of
    ten: a scheme of order ``p`` is a straight line of slope ``p``.

    Each item of ``series`` has ``label``, ``eps`` and ``abs_error`` (numbers
    of any kind) and optionally ``best_eps`` (marked with a star),
    ``predicted`` (a predicted |error| per step, drawn dashed), ``style``
    (a matplotlib format string) and ``colour``.  Zero errors
    (below the precision's resolution) are left out.  Faint lines of slope
    1, 2 and 4 start at the largest plotted error of the largest step.
    ``floor`` (float64 mode) draws the roundoff floor ``u·scale/εᵈ``: keys
    ``scale`` and ``derivative``.
    """
    fig = Figure(figsize=(8.6, 4.6), layout="constrained")
    ax = fig.subplots()
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    xs_all, ys_all = [], []
    for i, item in enumerate(series):
        colour = colours[i % len(colours)]
        x = np.array([log10_abs(v) for v in item["eps"]])
        y = np.array([log10_abs(v) for v in item["abs_error"]])
        keep = np.isfinite(x) & np.isfinite(y)
        colour = item.get("colour", colour)
        ax.plot(x[keep], y[keep], item.get("style", "o-"), color=colour, label=item["label"], markersize=4,
                linewidth=1.6)
        xs_all.extend(x[keep])
        ys_all.extend(y[keep])
        if item.get("predicted") is not None:
            p = np.array([log10_abs(v) for v in item["predicted"]])
            ok = np.isfinite(x) & np.isfinite(p)
            ax.plot(x[ok], p[ok], "--", color=colour, linewidth=1, alpha=0.8,
                    label=f"{item['label']} (predicted)")
        if item.get("best_eps") is not None:
            bx = log10_abs(item["best_eps"])
            match = [j for j in range(len(x)) if keep[j] and abs(x[j] - bx) < 1e-12]
            if match:
                j = match[0]
                ax.plot([x[j]], [y[j]], "*", color=colour, markersize=15, markeredgecolor="black",
                        markeredgewidth=0.6, zorder=5,
                        label=f"best ε for {item['label']} = {_short(item['best_eps'])}")
    if not xs_all:
        ax.text(0.5, 0.5, "every error is 0 at this precision", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return figure_svg(fig, salt, title or "convergence plot")
    x_lo, x_hi = min(xs_all), max(xs_all)
    y_lo, y_hi = min(ys_all), max(ys_all)
    pad_x = max(0.3, 0.04 * (x_hi - x_lo))
    # at least two decades tall, so the power-of-ten ticks stay whole numbers
    pad_y = max(0.5, 0.06 * (y_hi - y_lo), (2.0 - (y_hi - y_lo)) / 2)
    if floor is not None and floor.get("scale"):
        grid = np.linspace(x_lo - pad_x, x_hi + pad_x, 50)
        values = math.log10(UNIT_ROUNDOFF * floor["scale"]) - floor["derivative"] * grid
        ax.plot(grid, values, ":", color="0.35", linewidth=1.4,
                label="roundoff floor u·|f|/ε" + ("" if floor["derivative"] == 1 else f"^{floor['derivative']}"))
    # reference slopes through the top-right data point, faint so data stays in front
    x0 = x_hi
    y0 = max(y for x, y in zip(xs_all, ys_all) if x == x_hi)
    for slope in REFERENCE_SLOPES:
        xr = np.array([x_lo - pad_x, x0])
        ax.plot(xr, y0 + slope * (xr - x0), "-", color="0.55", alpha=0.35, linewidth=1, zorder=0)
        # labelled where the line leaves the view (bottom or left edge): apart for every slope
        bottom = y_lo - pad_y
        x_text = max(x_lo - pad_x, x0 - (y0 - bottom) / slope)
        ax.annotate(f"slope {slope}", (x_text, y0 + slope * (x_text - x0)), color="0.45",
                    fontsize=9, alpha=0.8, xytext=(3, 3), textcoords="offset points")
    ax.set_xlim(x_lo - pad_x, x_hi + pad_x)
    ax.set_ylim(y_lo - pad_y, y_hi + pad_y)
    _power_axis(ax.xaxis)
    _power_axis(ax.yaxis)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.25)
    if title:
        ax.set_title(title, fontsize=11)
    fig.legend(fontsize=10, loc="outside right upper", frameon=False)
    return figure_svg(fig, salt, title or "convergence plot: |error| against step ε")


def heatmap_svg(values, *, wrong=None, title: str = "", salt: str = "heatmap",
                row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None) -> str:
    """A heat-map of |claim − exact| per matrix entry (log colour scale), with a legend.

    Parameters
    ----------
    values : array-like
        2-D absolute differences (numbers of any kind; zeros show white).
    wrong : array-like of bool, optional
        Entries to outline (in dark blue, which stands out on the red scale);
        leave it out when every entry is wrong.
    title, salt : str
        The plot's title; ``salt`` makes SVG ids unique within a page.
    row_labels, col_labels : sequence of str, optional
        Tick labels (default: the indices).

    Returns
    -------
    str
        An ``<svg>`` element.  Labels are set at the body font's size once
        the page shows the figure at its natural width; values are printed
        in the cells of matrices up to 8×8.
    """
    grid = np.array([[log10_abs(v) for v in row] for row in np.atleast_2d(np.asarray(values, dtype=object))])
    rows, cols = grid.shape
    fig = Figure(figsize=(min(max(5.0, 2.6 + 0.85 * cols), 9.5), min(max(3.0, 1.6 + 0.6 * rows), 8.0)),
                 layout="constrained")
    ax = fig.subplots()
    finite = np.isfinite(grid)
    shown = np.ma.masked_where(~finite, np.where(finite, 10.0 ** np.clip(grid, -300, 300), 1.0))
    norm = None
    if finite.any():
        lo, hi = shown.min(), shown.max()
        # a decade below the least difference: every non-zero entry is visibly tinted, only 0 is white
        norm = LogNorm(vmin=lo / 10, vmax=hi if hi > lo else lo * 10)
        image = ax.imshow(shown, cmap="Reds", norm=norm, aspect="auto")
        colourbar = fig.colorbar(image, ax=ax, shrink=0.9)
        colourbar.set_label("|claim − exact|", fontsize=12)
        colourbar.ax.tick_params(labelsize=11)
    else:
        ax.imshow(np.zeros(grid.shape), cmap="Greys", vmin=0, vmax=1, aspect="auto")
    if rows * cols <= 64:
        for r in range(rows):
            for c in range(cols):
                text = "0" if not finite[r, c] else f"{10.0 ** grid[r, c]:.1e}" if abs(grid[r, c]) < 300 \
                    else f"1e{grid[r, c]:.0f}"
                dark = finite[r, c] and norm is not None and norm(shown[r, c]) > 0.6
                ax.text(c, r, text, ha="center", va="center", fontsize=10, color="white" if dark else "black")
    handles = []
    if wrong is not None:
        mask = np.atleast_2d(np.asarray(wrong, dtype=bool))
        for r, c in zip(*np.nonzero(mask)):
            ax.add_patch(matplotlib.patches.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False,
                                                      edgecolor=WRONG_OUTLINE, linewidth=2.5))
        handles.append(matplotlib.patches.Patch(fill=False, edgecolor=WRONG_OUTLINE, linewidth=2.5,
                                                label="wrong entry"))
    handles.append(matplotlib.patches.Patch(facecolor="white", edgecolor="0.6", label="equal (0)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=11, frameon=False)
    ax.set_xticks(range(cols), labels=col_labels or [str(c) for c in range(cols)], fontsize=12)
    ax.set_yticks(range(rows), labels=row_labels or [str(r) for r in range(rows)], fontsize=12)
    ax.set_xlabel("column", fontsize=12)
    ax.set_ylabel("row", fontsize=12)
    if title:
        ax.set_title(title, fontsize=13)
    return figure_svg(fig, salt, title or "heat-map of |claim − exact| per entry")


def seconds_svg(seconds: Sequence[float], *, title: str = "", salt: str = "seconds") -> str:
    """A histogram of times in seconds on a logarithmic axis (one bar per third of a decade).

    Parameters
    ----------
    seconds : sequence of float
        The times (each answer's judging time); zeros count in the first bar.
    title, salt : str
        The plot's title; ``salt`` makes SVG ids unique within a page.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    values = np.maximum(np.asarray(list(seconds), dtype=float), 1e-4)
    fig = Figure(figsize=(6.5, 2.8), layout="constrained")
    ax = fig.subplots()
    low = math.floor(math.log10(values.min())) if len(values) else -4
    high = math.ceil(math.log10(values.max())) if len(values) else 0
    bins = 10.0 ** np.arange(low, max(high, low + 1) + 1e-9, 1 / 3)
    ax.hist(values, bins=bins, color="#5d6d7e", edgecolor="white")
    ax.set_xscale("log")
    ax.set_xlabel("seconds per distinct answer", fontsize=11)
    ax.set_ylabel("answers", fontsize=11)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        ax.set_title(title, fontsize=12)
    return figure_svg(fig, salt, title or "histogram of the time each distinct answer took")


def _short(value) -> str:
    """A step as short text: 1e-08 rather than 1.0000000000000000209e-8."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return re.sub(r"\.?0+e", "e", mpmath.nstr(mpmath.mpf(value), 3, min_fixed=-3, max_fixed=4))
