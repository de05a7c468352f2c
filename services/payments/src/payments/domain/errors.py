"""What can go wrong in payments, in the service's own words (safe to show an operator)."""


class PaymentsError(Exception):
    """Base of every domain error."""


class InvalidArgument(PaymentsError):
    pass


class PermissionDenied(PaymentsError):
    pass


class NotFound(PaymentsError):
    def __init__(self, kind: str, entity_id: str) -> None:
        super().__init__(f"no {kind} {entity_id}")


class Conflict(PaymentsError):
    pass


class StripeUnavailable(PaymentsError):
    """Stripe is not configured here, or did not answer."""


class BadSignature(PaymentsError):
    """A webhook whose signature, timestamp or mode can't be trusted; answered 400, only counted."""


class UnstorableEvent(PaymentsError):
    """A correctly signed event PostgreSQL refuses to hold (a NUL character); answered 400, never stored."""


class PermanentEventError(PaymentsError):
    """The event can never apply as it is (unknown client or pack); it stays failed for an admin to look at."""


class DependencyUnavailable(PaymentsError):
    """Credits did not answer; the event is retried with backoff."""
