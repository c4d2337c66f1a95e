"""Formula text before the walk: raw checks, the caret rewrite, columns, Python's parser.

:func:`prepare` runs the cheap scans (length, null bytes, bracket depth,
digit runs) before anything reaches :func:`ast.parse`; :class:`SourceText`
maps positions in the parsed text back to the columns the user typed.
"""

from __future__ import annotations

import ast
import re
import sys
import warnings

from derivaudit.errors import LimitExceeded, ParseError
from derivaudit.lang.hints import syntax_hint
from derivaudit.limits import Limits

__all__ = ["SourceText", "prepare"]

_DIGIT_RUN = re.compile(r"\d[\d_]*")


class SourceText:
    """Formula text as given, and as handed to :func:`ast.parse`.

    ``^`` is rewritten to ``**`` before parsing (Python reads ``^`` as xor,
    with the wrong precedence); :meth:`column` maps positions in the
    rewritten text back to the user's columns so errors point at what they
    typed.  Line ends are rewritten to ``\n``: Python's tokenizer also ends
    lines at ``\r\n`` and a lone ``\r``, and positions must count lines as it does.
    """

    def __init__(self, text: str):
        self.original = text
        pieces: list[str] = []
        self._origin: list[int] = []  # rewritten offset -> original offset
        for i, ch in enumerate(text):
            if ch == "^":
                pieces.append("**")
                self._origin += [i, i]
            elif ch == "\r":
                if text[i + 1:i + 2] != "\n":
                    pieces.append("\n")
                    self._origin.append(i)
            else:
                pieces.append(ch)
                self._origin.append(i)
        self._origin.append(len(text))
        self.rewritten = "".join(pieces)
        self._line_starts = [0]
        for i, ch in enumerate(self.rewritten):
            if ch == "\n":
                self._line_starts.append(i + 1)
        # ast positions are UTF-8 byte offsets within a line
        self._line_bytes = [line.encode("utf-8") for line in self.rewritten.split("\n")]

    def _offset(self, lineno: int, char_col: int) -> int:
        lineno = max(1, min(lineno, len(self._line_starts)))
        return min(self._line_starts[lineno - 1] + char_col, len(self._origin) - 1)

    def position(self, lineno: int, utf8_col: int) -> tuple[int, int]:
        """(line, 1-based column in the original text) of an ast position."""
        lineno = max(1, min(lineno, len(self._line_bytes)))
        char_col = len(self._line_bytes[lineno - 1][:utf8_col].decode("utf-8", "ignore"))
        return self.original_position(lineno, char_col)

    def original_position(self, lineno: int, char_col: int) -> tuple[int, int]:
        offset = self._origin[self._offset(lineno, char_col)]
        head = self.original[:offset].replace("\r\n", "\n").replace("\r", "\n")
        line_start = self.original[:offset].rfind("\n")
        line_start = max(line_start, self.original[:offset].rfind("\r")) + 1
        return head.count("\n") + 1, offset - line_start + 1

    def segment(self, node: ast.AST) -> str:
        """The rewritten text of ``node`` (as typed, before NFKC folding)."""
        if node.lineno != node.end_lineno:
            return ast.get_source_segment(self.rewritten, node) or ""
        line = self._line_bytes[node.lineno - 1]
        return line[node.col_offset:node.end_col_offset].decode("utf-8", "ignore")


def prepare(text: str, limits: Limits) -> tuple[SourceText, ast.Expression]:
    """Check the raw text against the limits and parse it to a Python AST.

    Cheap scans run first so that nothing large or deep reaches the parser.
    """
    if not isinstance(text, str):
        raise ParseError(f"formula must be text, not {type(text).__name__}")
    if len(text) > limits.max_formula_length:
        raise LimitExceeded(f"formula is {len(text)} characters long "
                            f"(limit {limits.max_formula_length})")
    if "\x00" in text:
        raise ParseError("formula contains a null byte", source=text, column=text.index("\x00") + 1)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: not a character at all
        raise ParseError(f"formula contains an invalid character U+{ord(text[exc.start]):04X}",
                         source=text, column=exc.start + 1) from None
    if not text.strip():
        raise ParseError("formula is empty")
    depth = deepest = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
            if depth > limits.max_depth:
                raise LimitExceeded(f"formula nests brackets deeper than {limits.max_depth} "
                                    f"levels at column {i + 1}")
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    for run in _DIGIT_RUN.finditer(text):
        if len(run.group().replace("_", "")) > limits.max_literal_digits:
            raise LimitExceeded(f"number at column {run.start() + 1} has "
                                f"{len(run.group())} digits (limit {limits.max_literal_digits})")
    source = SourceText(text)
    # Python's parser nests a left-associative sum one level per term, so a
    # long (legitimate) sum needs a recursion limit proportional to its length;
    # the text length is already bounded, so is this.
    recursion_limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(recursion_limit, 2 * len(source.rewritten) + 200))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source.rewritten, mode="eval")
    except SyntaxError as exc:
        line, column = source.original_position(exc.lineno or 1, max((exc.offset or 1) - 1, 0))
        raise ParseError(f"syntax error: {exc.msg}", source=text, line=line, column=column,
                         hint=syntax_hint(text)) from None
    except (RecursionError, MemoryError):
        raise LimitExceeded("formula is too deeply nested to parse") from None
    finally:
        sys.setrecursionlimit(recursion_limit)
    return source, tree
