"""Domain errors. Services raise them; the web layer maps each class to one HTTP status."""


class DomainError(Exception):
    """A rule was broken. ``code`` is stable for clients, ``field`` names the culprit input."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class ValidationFailed(DomainError):
    """Input is well-formed but not acceptable (bad probability, unknown currency...)."""

    code = "validation_failed"


class NotFound(DomainError):
    """A referenced object does not exist."""

    code = "not_found"


class Conflict(DomainError):
    """The change contradicts current state (deleting a non-empty stage, a duplicate name)."""

    code = "conflict"


class LimitReached(Conflict):
    """A hard product limit, such as ten pipelines per account."""

    code = "limit_reached"


class Unavailable(DomainError):
    """A service outside ours (a messenger's API) could not be reached or answered
    something unreadable: nothing the caller sent was wrong, and a later try may work."""

    code = "upstream_unavailable"


class PermissionDenied(DomainError):
    """The user is known but their role does not allow the action."""

    code = "forbidden"


class Unauthenticated(DomainError):
    """No valid credentials were presented."""

    code = "unauthenticated"
