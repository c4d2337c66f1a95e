"""Progress reporting for long sweeps and audits.

Library functions take a ``progress`` argument: ``None``/``False`` reports
nothing, ``True`` draws a tqdm bar on stderr (shown only once the work has
run for a second, so quick runs stay silent), and a callable is called as
``progress(done, total)`` after each finished unit of work.  The CLI passes
``True`` only when stderr is a terminal and ``--quiet`` is not given.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["Progress", "ProgressArg", "terminal_progress"]

ProgressArg = bool | Callable[[int, int], object] | None

#: seconds before a tqdm bar appears
_DELAY = 1.0


class Progress:
    """Counts finished units of ``total`` and forwards them to ``progress``.

    Parameters
    ----------
    progress : bool, callable or None
        ``True`` draws a tqdm bar on stderr (imported only then, shown after
        a second); a callable is called as ``progress(done, total)``;
        ``None``/``False`` reports nothing.
    total : int
        Units of work.
    desc : str
        The bar's label.

    Examples
    --------
    >>> seen = []
    >>> advance = Progress(lambda done, total: seen.append((done, total)), 2, "study")
    >>> advance(); advance()
    >>> seen
    [(1, 2), (2, 2)]
    """

    def __init__(self, progress: ProgressArg, total: int, desc: str):
        self.total = total
        self.done = 0
        self._callback = None
        self._bar = None
        if progress is True:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, file=sys.stderr, delay=_DELAY, leave=False,
                             dynamic_ncols=True)
        elif callable(progress):
            self._callback = progress
        elif progress not in (None, False):
            raise TypeError(f"progress must be a bool or a callable, not {type(progress).__name__}")

    def __call__(self, n: int = 1) -> None:
        """Record ``n`` more finished units."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if self.done >= self.total:
                self.close()
        elif self._callback is not None:
            self._callback(self.done, self.total)

    def close(self) -> None:
        """Remove the bar (if one was drawn)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def terminal_progress(quiet: bool = False, stream=None) -> bool:
    """Whether to draw progress bars.

    Parameters
    ----------
    quiet : bool
        The command's ``--quiet``.
    stream : file, optional
        Where bars go (default stderr).

    Returns
    -------
    bool
        True when ``stream`` is a terminal and not ``quiet``.

    >>> import io
    >>> terminal_progress(stream=io.StringIO())
    False
    """
    stream = sys.stderr if stream is None else stream
    return not quiet and hasattr(stream, "isatty") and stream.isatty()
