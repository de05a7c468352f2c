"""Create an admin account from the command line: `admin-api-create-admin` (`make create-admin`).

    make create-admin EMAIL=ops@scenergy.example ROLE=super_admin PASSWORD='…'

Reads DATABASE_URL (the admin-api database), or, without it, finds the embedded run's database
under ./var. The password may come from the PASSWORD variable or is asked for without echo.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from admin_api.bootstrap import MIGRATIONS
from admin_api.service_layer.admins import AdminError, create_admin
from scenergy.common.db import make_engine
from scenergy.common.identity import Actor, Role
from scenergy.common.migrations import upgrade


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="admin-api-create-admin", description="Create an admin account.")
    parser.add_argument("--email", default=os.environ.get("EMAIL", ""))
    parser.add_argument("--role", default=os.environ.get("ROLE", "admin"), choices=[r.value for r in Role])
    parser.add_argument("--name", default=os.environ.get("NAME", ""))
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args(argv)
    if not args.email:
        parser.error("an email is needed (--email or EMAIL=…)")
    if not args.database_url:
        parser.error("DATABASE_URL is needed (the admin-api database); `make create-admin` finds the embedded one")
    password = os.environ.get("PASSWORD") or getpass.getpass("Password for the new admin: ")
    upgrade(MIGRATIONS, args.database_url)
    engine = make_engine(args.database_url, application_name="admin-api-create-admin", pool_size=1)
    try:
        with engine.begin() as conn:
            created = create_admin(
                conn, email=args.email, password=password, role=Role(args.role), name=args.name,
                actor=Actor.system("admin-api-cli"),
            )  # fmt: skip
    except AdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"created {created['role']} {created['email']} ({created['id']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
