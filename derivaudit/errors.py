"""The exceptions derivaudit raises on bad input.

Every error a user can cause derives from :class:`DerivauditError`; the CLI
turns each into one line on stderr and exit code 2.  Anything else escaping
the library is a bug in derivaudit, not in the user's input.
"""

from __future__ import annotations


class DerivauditError(Exception):
    """Base class of every error caused by the user's input."""


class ParseError(DerivauditError, ValueError):
    """A formula could not be parsed.

    ``column`` (1-based) and ``line`` point at the offending part of
    ``source``; either may be ``None`` when the error concerns the whole text.
    ``hint`` says how to fix it.
    """

    def __init__(self, message: str, *, source: str = "", line: int | None = None,
                 column: int | None = None, hint: str = ""):
        self.message = message
        self.hint = hint
        self.source = source
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        text = self.message
        if self.column is not None:
            where = f"column {self.column}"
            if self.line is not None and ("\n" in self.source or "\r" in self.source):
                where = f"line {self.line}, {where}"
            text = f"{text} at {where}"
        return f"{text}; {self.hint}" if self.hint else text


class UnsafeExpressionError(ParseError):
    """The formula uses syntax that could run code (attributes, lambdas, ...)."""


class LimitExceeded(DerivauditError):
    """An input or a computation went past one of the configured resource limits."""


class DomainError(DerivauditError, ValueError):
    """A formula was evaluated where it is undefined or not real."""


class SpecError(DerivauditError, ValueError):
    """An audit specification (TOML) is malformed or inconsistent."""


class ShapeError(DerivauditError, ValueError):
    """Array operands have incompatible shapes."""


class ReportError(DerivauditError, OSError):
    """A report could not be written."""
