"""The one error the runner reports as a plain message (no traceback): the user can act on it."""


class DevstackError(Exception):
    """Something in the environment stops the platform from starting: a taken port, a bad setting."""
