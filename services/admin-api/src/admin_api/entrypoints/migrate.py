"""Migrate the admin-api database to the newest revision: `admin-api-migrate`."""

from __future__ import annotations

import os

from admin_api.bootstrap import MIGRATIONS
from scenergy.common.config import require
from scenergy.common.logging import configure_logging
from scenergy.common.migrations import upgrade


def main() -> None:
    configure_logging("admin-api-migrate")
    upgrade(MIGRATIONS, require(os.environ, "DATABASE_URL"))


if __name__ == "__main__":
    main()
