"""The journal of a grading batch: every judged answer, one JSON line each, as soon as it is judged.

The report files of a batch are written once, atomically, at the end; the
journal is what survives an interruption (Ctrl-C, SIGTERM, a killed
process, a lost machine).  Its first line names the task by its digest
(:attr:`~derivaudit.grading.task.GradeTask.digest`: the task, the spec's text
and derivaudit's version); each further line is one answer's normalised
key and :class:`~derivaudit.grading.judge.Judgement`.  Resuming reads the
complete lines back (a line cut short by a kill is ignored) and judges only
the rest; a journal of another task is refused, never mixed in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from derivaudit.errors import ReportError, SpecError
from derivaudit.grading.judge import Judgement

__all__ = ["Journal", "JOURNAL_FORMAT", "journal_path", "discard"]

#: the first line's format name
JOURNAL_FORMAT = "derivaudit-grade-journal/1"


class Journal:
    """An append-only record of judged answers for one task.

    Parameters
    ----------
    path : str or os.PathLike
        The journal file.
    digest : str
        The task's digest.
    resume : bool
        Read the judgements already in ``path`` (they are :attr:`judged`) and
        append to it; otherwise start it afresh.

    Raises
    ------
    SpecError
        Resuming from a journal written for another task (or not a journal).
    ReportError
        The file cannot be written.
    """

    def __init__(self, path, digest: str, resume: bool = False):
        self.path = Path(path)
        self.digest = digest
        self.judged: dict[tuple[str, ...], Judgement] = {}
        if resume and self.path.exists():
            self._read()
            mode = "a"
        else:
            mode = "w"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, mode, encoding="utf-8", newline="\n")
            if mode == "w":
                self._write({"format": JOURNAL_FORMAT, "task": digest})
        except OSError as exc:
            raise ReportError(f"cannot write the journal {self.path}: {exc.strerror or exc}") from None

    def _read(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot resume from {self.path}: {exc}") from None
        try:
            head = json.loads(lines[0])
        except ValueError:
            head = None
        if not isinstance(head, dict) or head.get("format") != JOURNAL_FORMAT:
            raise SpecError(f"cannot resume from {self.path}: it is not a grading journal")
        if head.get("task") != self.digest:
            raise SpecError(f"cannot resume from {self.path}: it was written for another task (or another "
                            "version of derivaudit); run without --resume to start afresh")
        for line in lines[1:]:
            try:
                record = json.loads(line)
                key = tuple(record["key"])
                judgement = Judgement.from_dict(record["judgement"])
            except (ValueError, KeyError, TypeError):
                continue  # the last line of a killed run may be cut short
            self.judged[key] = judgement
        # a cut line must not glue itself to the next record
        if lines and lines[-1]:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write("\n")

    def _write(self, record: dict) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=True) + "\n")
        self._handle.flush()  # in the kernel's hands now: a killed process loses nothing

    def record(self, key: tuple[str, ...], judgement: Judgement) -> None:
        """Append one judged answer."""
        try:
            self._write({"key": list(key), "judgement": judgement.to_dict()})
        except OSError as exc:
            raise ReportError(f"cannot write the journal {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        """Flush the journal to disk and close it."""
        if not self._handle.closed:
            try:
                os.fsync(self._handle.fileno())
            except OSError:
                pass
            self._handle.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def journal_path(csv_target) -> Path:
    """Where the CLI keeps the journal of a batch writing ``csv_target``: beside it, ``OUT.csv.journal``."""
    return Path(str(Path(csv_target)) + ".journal")


def discard(path) -> None:
    """Remove a journal whose batch has been written out (a missing one is fine)."""
    Path(path).unlink(missing_ok=True)
