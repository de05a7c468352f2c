"""The provider's health on the dashboard, from the last 15 minutes of attempts."""

import pytest

from generation.views import _provider_health


def attempts(**counts: int) -> list[tuple[str, str | None, int]]:
    """Rows as the stats query returns them: (outcome, error_class, count)."""
    return [("completed", None, n) if cls == "completed" else ("error", cls, n) for cls, n in counts.items()]


@pytest.mark.parametrize(
    ("recent", "health"),
    [
        ([], "healthy"),
        (attempts(completed=20), "healthy"),
        (attempts(completed=19, safety_blocked=5), "healthy"),  # the request's fault, not the model's
        (attempts(completed=96, server_error=4), "healthy"),  # under one in ten
        (attempts(completed=90, server_error=10), "degraded"),
        (attempts(completed=18, rate_limited=2), "degraded"),
        (attempts(completed=5, timeout=3, server_error=2), "down"),
        (attempts(server_error=2), "degraded"),  # too few attempts to call it down
    ],
)
def test_health_follows_the_share_of_the_models_own_errors(recent, health):
    assert _provider_health(recent) == health
