"""Errors of the audit service; the gRPC layer maps each to a status code."""


class AuditError(Exception):
    """Base of the service's expected errors."""


class InvalidArgument(AuditError):
    pass


class PermissionDenied(AuditError):
    pass


class EntryNotFound(AuditError):
    pass


class NothingToPurge(AuditError):
    pass
