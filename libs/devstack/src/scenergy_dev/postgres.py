"""PostgreSQL for the embedded run: the server DATABASE_URL names, or one started from the pgserver wheel.

The embedded server keeps its data in `<var-dir>/pg` between runs and listens only on a unix socket
(no TCP port to collide with). pgserver puts the socket in the data directory, or under the user's
runtime directory when that path would exceed the kernel's limit for socket paths (about 107 bytes);
either way the URL it reports is the one to use. As root, pgserver runs PostgreSQL as a `pgserver`
system user, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url

from scenergy.common.db import sqlalchemy_url
from scenergy_dev.errors import DevstackError


@dataclass(frozen=True)
class DatabaseServer:
    url: str  # any URL on the server; the database part is replaced per use

    def url_for(self, database: str) -> str:
        return make_url(sqlalchemy_url(self.url)).set(database=database).render_as_string(hide_password=False)


def masked(url: str) -> str:
    """A URL safe to print: the password, if any, replaced by ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{hostport}"))


class VarDirLock:
    """One runner per var dir: the embedded PostgreSQL it starts is its own to stop."""

    def __init__(self, var_dir: Path) -> None:
        self._path = var_dir / "run.lock"
        self._handle: TextIO | None = None

    def acquire(self) -> bool:
        handle = self._path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def holder(self) -> str:
        try:
            return self._path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the flock
            self._handle = None


def _import_pgserver() -> ModuleType:
    """Imported on first use: only the embedded mode needs it."""
    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset; it falls back to /tmp correctly.
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver


class EmbeddedPostgres:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()

    def start(self) -> DatabaseServer:
        """Initialise the data directory on first use, start the server unless it runs, return its URL."""
        pgserver = _import_pgserver()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            # cleanup_mode=None: this runner stops the server itself, after the processes using it.
            server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise DevstackError(
                f"the embedded PostgreSQL did not start ({exc}); its log is {self.pgdata / 'log'}"
            ) from None
        return DatabaseServer(server.get_uri("postgres"))

    def running_pid(self) -> int | None:
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by another user (the pgserver user when we are root)
        return pid

    def stop(self) -> bool:
        """Fast shutdown (disconnect clients, checkpoint); False when it was not running."""
        if self.running_pid() is None:
            return False
        pg_ctl = _import_pgserver().pg_ctl
        owner = self.pgdata.stat().st_uid
        # pg_ctl refuses to run as root; run it as the data directory's owner, like the server.
        user = pwd.getpwuid(owner).pw_name if os.geteuid() == 0 and owner != 0 else None
        try:
            pg_ctl(["-w", "-t", "30", "-m", "fast", "stop"], pgdata=self.pgdata, user=user)
        except subprocess.CalledProcessError as exc:
            raise DevstackError(f"the embedded PostgreSQL did not stop cleanly: {exc}") from None
        return True
