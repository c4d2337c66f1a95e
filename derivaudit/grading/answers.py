"""The answers CSV: one submission per row, read strictly.

The file is UTF-8 (a byte-order mark is allowed) with a header row naming
its columns; the task's ``[columns]`` say which column identifies a
submission and which hold its claim.  What students wrote is *data*: an
empty, unreadable or hostile answer is judged ``invalid`` later, never an
error here.  What makes the file unusable is an error naming the line and
column: a missing header or column, a row with more or fewer fields than
the header, an empty id, text that is not UTF-8.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from derivaudit.errors import SpecError
from derivaudit.echo import escape_controls
from derivaudit.grading.task import GradeTask

__all__ = ["Submission", "read_answers", "answers_from_text", "MAX_FIELD_CHARACTERS"]

#: a field longer than this makes the file unusable (a formula is refused long before: 10 000 characters)
MAX_FIELD_CHARACTERS = 1_000_000


@dataclass(frozen=True)
class Submission:
    """One row: its line in the file, the submission's id and its claim text(s), raw."""

    line: int
    id: str
    claims: tuple[str, ...]


def _fail(source: str, line: int | None, column: str | None, message: str) -> SpecError:
    where = source + (f", line {line}" if line is not None else "") + \
        (f", column {escape_controls(column)!r}" if column is not None else "")
    return SpecError(f"{where}: {message}")


def answers_from_text(text: str, task: GradeTask, source: str = "<answers>") -> list[Submission]:
    """The submissions of CSV ``text``, in file order.

    >>> from derivaudit.grading.task import task_from_dict
    >>> task = task_from_dict({"task": {"formula": "x**3", "wrt": "x"},
    ...                        "columns": {"id": "student", "claim": "answer"}})
    >>> answers_from_text("student,answer\\nada,3*x**2\\nbob,\\"3*x^2 \\"\\n", task)
    [Submission(line=2, id='ada', claims=('3*x**2',)), Submission(line=3, id='bob', claims=('3*x^2 ',))]

    Raises :class:`~derivaudit.errors.SpecError` naming the line and column at fault.
    """
    text = text.removeprefix("\ufeff")  # a byte-order mark, as spreadsheets write
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise _fail(source, line, None, "contains a NUL byte; save the file as plain UTF-8 CSV")
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARACTERS))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise _fail(source, None, None, "is empty; the first line names the columns") from None
    except csv.Error as exc:
        raise _fail(source, reader.line_num, None, f"not valid CSV: {exc}") from None
    header = [h.strip() for h in header]
    wanted = (task.id_column, *task.claim_columns)
    for name in wanted:
        if name not in header:
            raise _fail(source, 1, name, f"no such column in the header (it has: "
                                         f"{escape_controls(', '.join(header))}); fix [columns] in the task")
        if header.count(name) > 1:
            raise _fail(source, 1, name, "appears twice in the header")
    positions = [header.index(name) for name in wanted]
    submissions = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _fail(source, reader.line_num, None, f"not valid CSV: {exc}") from None
        line = reader.line_num
        if not row or all(not field.strip() for field in row):
            continue  # blank lines are not submissions
        if len(row) != len(header):
            raise _fail(source, line, None, f"has {len(row)} fields but the header has {len(header)}; "
                                            "quote fields that contain commas")
        for name, position in zip(wanted, positions):
            if len(row[position]) > MAX_FIELD_CHARACTERS:
                raise _fail(source, line, name, f"longer than {MAX_FIELD_CHARACTERS} characters")
        ident = row[positions[0]].strip()
        if not ident:
            raise _fail(source, line, task.id_column, "empty id; every submission needs one")
        submissions.append(Submission(line, ident, tuple(row[p] for p in positions[1:])))
    return submissions


def read_answers(path, task: GradeTask) -> list[Submission]:
    """The submissions of the CSV file at ``path`` (see :func:`answers_from_text`).

    Raises
    ------
    SpecError
        The file cannot be read, is not UTF-8, or a line is malformed (named with its column).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _fail(str(path), line, None, "is not UTF-8 text; save the CSV as UTF-8") from None
    return answers_from_text(text, task, str(path))
