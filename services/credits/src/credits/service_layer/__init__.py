"""Use cases of the credits service."""
