"""User text echoed back safely: control characters shown as escapes, never sent raw.

A formula, claim or spec is echoed as the user typed it, comments included.
Raw control characters in it would act on a terminal instead of printing: an
ANSI sequence after ``#`` in a claim can erase "df/dx: WRONG" and write
"CORRECT" in its place, a carriage return can overwrite the line, a newline
can forge a line of the report, and Unicode direction overrides can reorder
what is read.  :func:`escape_controls` turns every such character into its
Python escape (``\\x1b``, ``\\n``, ``\\u202e``), so the text shows what was
typed and does nothing.  It is the one escaping function: the echo of typed
text in results, the CLI's output streams, and the CSV and HTML reports use it.

This module imports nothing of derivaudit (the bottom floor).
"""

from __future__ import annotations

__all__ = ["escape_controls"]

#: kept by ``keep_layout``: a report's own line breaks and tabs (a carriage return is not
#: kept: it rewrites the terminal's line)
_LAYOUT = "\n\t"


def _escaped(ch: str, keep: str) -> str:
    return ch if ch.isprintable() or ch in keep else repr(ch)[1:-1]  # '\x1b' → \x1b


def escape_controls(text: str, keep_layout: bool = False) -> str:
    """``text`` with every character Python does not call printable (controls, format
    characters such as direction overrides, separators other than the space) as its escape.

    Parameters
    ----------
    text : str
        Text to echo.
    keep_layout : bool
        Keep newlines and tabs (for a whole report, whose lines are its own);
        the text of one formula or claim escapes them too.

    Returns
    -------
    str
        The text; unchanged when it has no control character.

    Examples
    --------
    >>> escape_controls("3*x  # \\x1b[2K\\rCORRECT")
    '3*x  # \\\\x1b[2K\\\\rCORRECT'
    >>> escape_controls("a\\tb\\nc\\u202e"), escape_controls("a\\tb\\nc", keep_layout=True)
    ('a\\\\tb\\\\nc\\\\u202e', 'a\\tb\\nc')
    """
    if not isinstance(text, str):
        text = str(text)
    keep = _LAYOUT if keep_layout else ""
    if (text.replace("\n", "").replace("\t", "") if keep else text).isprintable():
        return text
    return "".join([_escaped(ch, keep) for ch in text])
