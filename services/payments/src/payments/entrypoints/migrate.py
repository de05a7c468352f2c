"""Migrate the payments database to the newest revision: `payments-migrate`."""

from __future__ import annotations

import os

from payments.bootstrap import MIGRATIONS
from scenergy.common.config import require
from scenergy.common.logging import configure_logging
from scenergy.common.migrations import upgrade


def main() -> None:
    configure_logging("payments-migrate")
    upgrade(MIGRATIONS, require(os.environ, "DATABASE_URL"))


if __name__ == "__main__":
    main()
