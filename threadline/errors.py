"""The small tree of errors that services raise, each with a stable code.

The web app shows them as form errors, the command line as a message and a
non-zero exit; neither needs to know which service raised them.
"""


class ThreadlineError(Exception):
    """Base of every error a service raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ThreadlineError):
    """The caller sent something the record cannot accept; nothing changed."""

    code = "invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAllowed(ThreadlineError):
    """The actor may not do this; nothing changed."""

    code = "forbidden"


class NotFound(ThreadlineError):
    """No such record, or none the actor may see."""

    code = "not_found"


class Conflict(ThreadlineError):
    """The record changed since the caller read it."""

    code = "conflict"
