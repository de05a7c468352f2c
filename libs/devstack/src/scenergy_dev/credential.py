"""The service credential key every process shares: from SERVICE_CREDENTIAL_KEY, or generated once.

A generated key lives in `<var-dir>/secrets/service_credential_key` (directory 0700, file 0600) so the
platform keeps the same key between runs. The key itself is never printed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from scenergy_dev.errors import DevstackError

VARIABLE = "SERVICE_CREDENTIAL_KEY"
MIN_LENGTH = 16  # what scenergy.common.identity.ServiceCredential accepts


def credential_key(env: Mapping[str, str], var_dir: Path) -> tuple[str, str]:
    """The key and where it came from (for the summary: a variable name or a file path, never the key)."""
    from_env = env.get(VARIABLE, "").strip()
    if from_env:
        if len(from_env) < MIN_LENGTH:
            raise DevstackError(f"{VARIABLE} must be at least {MIN_LENGTH} characters")
        return from_env, f"${VARIABLE}"

    directory = var_dir / "secrets"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / "service_credential_key"
    try:
        # O_EXCL: two runners racing on a fresh var dir must not overwrite each other's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        path.chmod(0o600)
        key = path.read_text().strip()
        if len(key) < MIN_LENGTH:
            raise DevstackError(f"{path} holds no usable key; delete it and a new one is generated") from None
        return key, str(path)
    key = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key, str(path)
