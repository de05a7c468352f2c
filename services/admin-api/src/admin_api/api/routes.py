"""Every blueprint of the admin API, in one list."""

from __future__ import annotations

from admin_api.api import (
    admins,
    audit,
    auth,
    clients,
    credits,
    dashboard,
    generations,
    jobs,
    members,
    payments,
    settings,
    users,
)

BLUEPRINTS = [
    auth.bp,
    credits.bp,
    audit.bp,
    dashboard.bp,
    settings.bp,
    admins.bp,
    clients.bp,
    users.bp,
    members.bp,
    generations.bp,
    jobs.bp,
    payments.bp,
]
