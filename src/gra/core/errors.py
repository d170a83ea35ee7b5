"""Errors a user can cause, and how they reach the terminal.

Every ``UserError`` becomes one line on stderr and exit code 2 in the CLI:
it names the file, line or setting and says what to do. Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, config or environment.

    ``where`` is the file (optionally ``file:line``) or setting at fault;
    the message says what is wrong and, where it helps, what to do.
    """

    def __init__(self, message: str, where: str | None = None):
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


class ModelUnavailable(UserError):
    """A configured model cannot be found, verified or loaded."""
