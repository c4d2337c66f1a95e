"""Where lifted code lets a value drop to float64, and the session that records it.

A *drop* is a high-precision value turned into a float64 one: ``float(x)``,
``x.astype(np.float64)``, ``np.asarray(x, dtype=float)``, ``math.exp(x)``,
``np.float64(x)``, a C extension that only takes doubles.  Lifted code that
drops computes its derivative to float64 accuracy at best, so a check at
``dps`` digits would judge float64 noise: the check falls back to float64 and
says where the drop happened (file:line and the source line).

The hooks of :class:`~derivaudit.gradcheck.lifted.BallArray` report drops
they see directly (with the caller's line); :func:`locate_drop` re-runs the
code under a line tracer for the drops no hook sees (a float built from an
element, a plain list of numbers).
"""

from __future__ import annotations

import functools
import linecache
import os
import re
import sys
import sysconfig
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["DroppedToFloat64", "LiftSession", "active_session", "set_session", "record_drop", "user_line",
           "locate_drop", "is_user_file", "describe"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_DIRS = (_PACKAGE_DIR, os.path.dirname(os.path.abspath(np.__file__)), sysconfig.get_paths()["stdlib"])
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_local = threading.local()


class DroppedToFloat64(Exception):
    """Raised inside a lifted run when a value must leave ball arithmetic; ``where`` names the line."""

    def __init__(self, why: str, where: str = ""):
        super().__init__(f"{why} at {where}" if where else why)
        self.why, self.where = why, where


@dataclass
class LiftSession:
    """The drops seen while lifted code runs (first one kept with its line)."""

    drops: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if text not in self.drops:
            self.drops.append(text)


def active_session() -> LiftSession | None:
    """The session of the lifted run on this thread, if any."""
    return _local.__dict__.get("session")


def set_session(session: LiftSession | None) -> None:
    """Make ``session`` the active one on this thread (None ends it)."""
    _local.session = session


@functools.lru_cache(maxsize=4096)
def is_user_file(filename: str) -> bool:
    """True for the user's own code: not derivaudit, numpy, an installed library or the standard library."""
    if filename.startswith("<frozen"):
        return False
    path = os.path.abspath(filename)
    return not (path.startswith(_LIBRARY_DIRS) or "site-packages" in path or "dist-packages" in path)



def user_line(skip: int = 1) -> str:
    """``file:line: source`` of the innermost frame outside derivaudit and numpy."""
    frame = sys._getframe(skip)
    while frame is not None and not is_user_file(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return ""
    return describe(frame.f_code.co_filename, frame.f_lineno)


def describe(filename: str, lineno: int) -> str:
    source = linecache.getline(filename, lineno).strip()
    shown = os.path.basename(filename) if not filename.startswith("<") else filename
    return f"{shown}:{lineno}" + (f" ({source})" if source else "")


def record_drop(what: str) -> None:
    """Note that ``what`` turned a ball into a float64 value, at the user's line."""
    session = active_session()
    if session is not None:
        where = user_line(2)
        session.add(f"{what} at {where}" if where else what)


def _floatish(value) -> bool:
    if isinstance(value, (float, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "fc"


def _ball_names(frame, is_ball: Callable) -> set[str]:
    names = {k for k, v in frame.f_locals.items() if is_ball(v)}
    return names


def locate_drop(run: Callable[[], object], is_ball: Callable[[object], bool]) -> str:
    """Re-run ``run`` under a line tracer; the first user line that made a float64 value out of balls.

    A line counts when, after it ran, a local of its frame holds a float64
    number or array that it did not hold before, and the line names a local
    that held balls.  Returns ``file:line (source)`` or ``""``.
    """
    found: list[str] = []
    state: dict = {}

    def local_trace(frame, event, arg):
        if found:
            return None
        before = state.get(frame)
        if before is not None:
            line, balls, ids = before
            text = linecache.getline(frame.f_code.co_filename, line)
            named = set(_NAME.findall(text)) & balls
            changed = [v for k, v in frame.f_locals.items() if ids.get(k) != id(v) and _floatish(v)]
            if event == "return" and _floatish(arg):
                changed.append(arg)
            if named and changed:
                found.append(describe(frame.f_code.co_filename, line))
                return None
        if event == "line":
            state[frame] = (frame.f_lineno, _ball_names(frame, is_ball),
                            {k: id(v) for k, v in frame.f_locals.items()})
        return local_trace

    def global_trace(frame, event, arg):
        if event == "call" and is_user_file(frame.f_code.co_filename) and not found:
            return local_trace
        return None

    previous = sys.gettrace()
    sys.settrace(global_trace)
    try:
        run()
    except Exception:  # the drop may have made the code fail later on; the line is what we want
        pass
    finally:
        sys.settrace(previous)
    return found[0] if found else ""
