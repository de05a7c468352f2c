"""Every blueprint of the admin API, in one list."""

from __future__ import annotations

from admin_api.api import auth

BLUEPRINTS = [auth.bp]
