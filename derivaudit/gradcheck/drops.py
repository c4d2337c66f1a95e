"""Where lifted code lets a value drop to float64, and the session that records it.

A *drop* is a high-precision value turned into a float64 one: ``float(x)``,
``x.astype(np.float64)``, ``np.asarray(x, dtype=float)``, ``math.exp(x)``,
``np.float64(x)``, a C extension that only takes doubles.  Lifted code that
drops computes its derivative to float64 accuracy at best, so a check at
``dps`` digits would judge float64 noise: the check falls back to float64 and
says where the drop happened (file:line and the source line).

The hooks of :class:`~derivaudit.gradcheck.lifted.BallArray` report the
drops they see, with the caller's line.  A drop no hook sees (a bare ball
taken out with ``x.view(np.ndarray)`` and converted) still shows in the
result, which then holds float64 numbers: the check falls back without a line.
(A line tracer could find it, but ``sys.settrace`` was seen to hang CPython
3.11 inside pytest after other threads had run; the hooks need no tracer.)
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
import sysconfig
import threading
from dataclasses import dataclass, field

import numpy as np

__all__ = ["DroppedToFloat64", "LiftSession", "active_session", "set_session", "record_drop", "user_line",
           "is_user_file", "describe"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_DIRS = (_PACKAGE_DIR, os.path.dirname(os.path.abspath(np.__file__)), sysconfig.get_paths()["stdlib"])
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
