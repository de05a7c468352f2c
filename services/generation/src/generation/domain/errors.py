"""What can go wrong with a generation command, in the service's own words (safe to show an operator)."""


class GenerationError(Exception):
    """Base of every domain error."""


class InvalidArgument(GenerationError):
    pass


class PermissionDenied(GenerationError):
    pass


class NotFound(GenerationError):
    def __init__(self, kind: str, entity_id: str) -> None:
        super().__init__(f"no {kind} {entity_id}")


class Conflict(GenerationError):
    """The entity is not in a state that allows the operation (cancel a completed job, …)."""


class IdempotencyConflict(GenerationError):
    """The idempotency key was used before with a different request."""


class InsufficientCredits(GenerationError):
    """The client can't cover the job's credit hold."""


class PreviewExpired(GenerationError):
    pass


class SetChanged(GenerationError):
    """The dead jobs changed since the preview; the bulk retry is refused, nothing enqueued."""


class Busy(GenerationError):
    """Another bulk operation already runs for one of these clients."""


class DependencyUnavailable(GenerationError):
    """A service this one calls (credits) did not answer."""
