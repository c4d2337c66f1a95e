"""Report files written atomically: a file, or a whole folder of files, at once.

A file is written into a temporary sibling and renamed over the target; a
folder is written into a temporary sibling folder and swapped in by one
rename, so a failed or interrupted run (an error, Ctrl-C, SIGTERM handled
by the CLI, a full disk) leaves either the previous report or the new one,
never a mix and never a half-written file.  Every report is rendered in
memory before the first byte is written.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
from pathlib import Path

from derivaudit.errors import ReportError

__all__ = ["atomic_write_text", "atomic_write_folder", "is_folder_target", "write_csv", "write_html",
           "write_text_file"]


def _umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _failure(path, exc: OSError) -> ReportError:
    return ReportError(f"cannot write {path}: {exc.strerror or exc}; check that the folder exists, "
                       "is writable and the disk has room")


def write_text_file(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8, no newline translation) and flush it to disk."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and a rename.

    Parameters
    ----------
    path : str or os.PathLike
        The target file; missing parent folders are created.
    text : str
        The complete content.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ReportError
        When the file cannot be written; the temporary file is removed and
        the previous content of ``path`` (if any) is untouched.

    Notes
    -----
    The file gets the permissions of the file it replaces, or the usual ones
    for a new file (``mkstemp`` alone would leave it readable only by its owner).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise ReportError(f"cannot write {path}: it is a folder; give a file name")
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise _failure(path, exc) from None
    try:
        write_text_file(tmp, text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _failure(path, exc) from None
        raise
    return path


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    name = ctypes.util.find_library("c")
    try:
        renameat2 = ctypes.CDLL(name, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system or kernel cannot
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _carry_over(old: Path, new: Path, names: set[str]) -> None:
    """Link (or copy) into ``new`` what ``old`` holds beyond this report's files: they are not ours to drop."""
    for entry in old.iterdir():
        if entry.name in names:
            continue
        target = new / entry.name
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True)
            continue
        try:
            os.link(entry, target, follow_symlinks=False)
        except OSError:
            shutil.copy2(entry, target, follow_symlinks=False)


def _swap_in(tmp: Path, folder: Path) -> None:
    """Make ``tmp`` the folder ``folder``; the replaced folder is removed afterwards."""
    if not folder.exists():
        os.rename(tmp, folder)
        return
    if _exchange(tmp, folder):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous report
        return
    # without an atomic exchange there is a moment with no folder, never one with a mix
    old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=folder.parent))
    os.rename(folder, old / "report")
    os.rename(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def atomic_write_folder(folder: str | os.PathLike, files: dict[str, str]) -> Path:
    """Write a folder of text files as a whole.

    Parameters
    ----------
    folder : str or os.PathLike
        The target folder; missing parents are created.
    files : dict of str to str
        File name → complete text.

    Returns
    -------
    pathlib.Path
        ``folder``.

    Raises
    ------
    ReportError
        When the folder cannot be written (it is a file, no permission, the
        disk is full): the temporary folder is removed and the previous
        folder, if any, is untouched.

    Notes
    -----
    The files go into a hidden temporary sibling folder, which is then
    swapped in by rename (atomically where the kernel offers
    ``RENAME_EXCHANGE``), so a reader sees the old report or the new one.
    Files of an existing folder that this report does not write are kept.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ReportError(f"cannot write CSV files into {folder}: it is a file; "
                          "give a folder path or a .csv file name")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    except OSError as exc:
        raise _failure(folder, exc) from None
    try:
        mode = folder.stat().st_mode & 0o7777 if folder.exists() else 0o777 & ~_umask()
        file_mode = 0o666 & ~_umask()
        for name, text in files.items():
            write_text_file(tmp / name, text)
            os.chmod(tmp / name, file_mode)
        if folder.exists():
            _carry_over(folder, tmp, set(files))
        os.chmod(tmp, mode)
        _swap_in(tmp, folder)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _failure(folder, exc) from None
        raise
    return folder


def is_folder_target(path: str | os.PathLike) -> bool:
    """Whether a report target names a folder: it ends in a separator or has no suffix.

    >>> is_folder_target("reports/mlp/"), is_folder_target("reports/mlp"), is_folder_target("cubic.csv")
    (True, True, False)
    """
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or Path(text).suffix == ""


def write_csv(result, path: str | os.PathLike) -> Path:
    """Write a result as CSV.

    Parameters
    ----------
    result : StudyResult, CheckResult, AuditResult, GradientCheckResult or SweepResult
    path : str or os.PathLike
        A file target gets one long table — one row per (claim, scheme, ε) —
        with every computed digit kept as text and ``*_f64`` float columns
        beside the text ones; ``pandas.read_csv`` reads it back.  A folder
        target (``reports/mlp/``) gets one CSV per table plus ``summary.csv``,
        written as a whole (:func:`atomic_write_folder`).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from derivaudit.reports.csv import csv_texts

    long, files = csv_texts(result)
    if is_folder_target(path):
        return atomic_write_folder(path, files)
    return atomic_write_text(path, long)


def write_html(result, path: str | os.PathLike) -> Path:
    """Write the self-contained HTML report of a result.

    Parameters
    ----------
    result : StudyResult, CheckResult, AuditResult, GradientCheckResult or SweepResult
    path : str or os.PathLike
        A file name such as ``reports/cubic.html``.

    Returns
    -------
    pathlib.Path
        The path written; the page is rendered completely before the file is touched.
    """
    if os.fspath(path).endswith(("/", os.sep)):
        raise ReportError(f"cannot write {path}: an HTML report is one file; give a file name "
                          "such as reports/cubic.html")
    from derivaudit.reports.html import render  # matplotlib and jinja2 load only when HTML is asked for

    return atomic_write_text(path, render(result))
