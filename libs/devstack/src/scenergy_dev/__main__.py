"""The embedded runtime: `python -m scenergy_dev run` (make run) and `python -m scenergy_dev migrate` (make migrate).

`run` brings the whole platform up on a machine with only Python: it starts PostgreSQL from the pgserver
wheel (data in <var-dir>/pg, kept between runs), creates and migrates each service's database
(scenergy_<service>), starts every process of every service as its own OS process with its output
prefixed by its name, waits until each answers its health checks, seeds demo data (idempotently),
prints what runs where, and runs until Ctrl-C or SIGTERM (exit 0) or until a process dies (exit 1).
`migrate` only creates and migrates the databases. `create-admin` (make create-admin EMAIL=… ROLE=…
PASSWORD=…) adds an admin account to the gateway's database, embedded or DATABASE_URL's.

Environment (all optional):
  DATABASE_URL               a PostgreSQL server to use instead of the embedded one; each service
                             gets its own database on it, named scenergy_<service>
  DATABASE_URL_<SERVICE>     one service's database, verbatim (e.g. DATABASE_URL_CREDITS)
  BROKER_URL                 the message broker (e.g. amqp://...); default: kombu's SQLAlchemy
                             transport on the database scenergy_broker of that PostgreSQL
  SERVICE_CREDENTIAL_KEY     the key every process signs and verifies internal calls with (>= 16
                             characters); default: generated once into <var-dir>/secrets/
  BIND_HOST                  the address every process listens on (default 127.0.0.1)
  DB_POOL_SIZE               database pool size per process (default 5)
  <SERVICE>_<PORT VARIABLE>  move a port (`--help` lists them all, from services.SERVICES); for credits:
                               CREDITS_GRPC_PORT        credits-grpc gRPC    (default 50051)
                               CREDITS_HTTP_PORT        credits-grpc HTTP    (default 8001)
                               CREDITS_WORKER_OPS_PORT  credits-worker HTTP  (default 9101)
Every process also receives <SERVICE>_ADDR (host:port) of each gRPC service.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from scenergy_dev.services import SERVICES
from scenergy_dev.stack import StopRequested, create_admin, migrate, run


def _ports_help() -> str:
    rows = [
        f"  {service.env_prefix + '_' + port.variable:<28} {process.name} {port.protocol} (default {port.default})"
        for service in SERVICES
        for process in service.processes
        for port in process.ports
    ]
    return "\n".join(["Ports and the variables that move them:", *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scenergy_dev",
        description=__doc__,
        epilog=_ports_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["run", "migrate", "create-admin"])
    parser.add_argument("--var-dir", type=Path, default=Path("var"), help="where local state lives (default: ./var)")
    args = parser.parse_args(argv)
    command = {"run": run, "migrate": migrate, "create-admin": create_admin}[args.command]
    try:
        return command(args.var_dir, os.environ)
    except StopRequested:  # a second signal while the first was being handled; cleanup has run
        return 0


if __name__ == "__main__":
    sys.exit(main())
