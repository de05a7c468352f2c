"""Secrets the embedded platform needs: from the environment, or generated once and kept under the var dir.

The service credential key every process shares (SERVICE_CREDENTIAL_KEY), and any secret a service
declares (e.g. the audit log's AUDIT_SIGNING_KEY). A generated secret lives in
`<var-dir>/secrets/<variable in lower case>` (directory 0700, file 0600) so the platform keeps the same
secret between runs. Secrets themselves are never printed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from scenergy_dev.errors import DevstackError

VARIABLE = "SERVICE_CREDENTIAL_KEY"
MIN_LENGTH = 16  # what scenergy.common.identity.ServiceCredential accepts


def stored_secret(
    env: Mapping[str, str], var_dir: Path, variable: str, *, generate: Callable[[], str], min_length: int = 16
) -> tuple[str, str]:
    """The secret and where it came from (for the summary: a variable name or a file path, never the value)."""
    from_env = env.get(variable, "").strip()
    if from_env:
        if len(from_env) < min_length:
            raise DevstackError(f"{variable} must be at least {min_length} characters")
        return from_env, f"${variable}"

    directory = var_dir / "secrets"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / variable.lower()
    try:
        # O_EXCL: two runners racing on a fresh var dir must not overwrite each other's secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        path.chmod(0o600)
        value = path.read_text().strip()
        if len(value) < min_length:
            raise DevstackError(f"{path} holds no usable value; delete it and a new one is generated") from None
        return value, str(path)
    value = generate()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value, str(path)


def credential_key(env: Mapping[str, str], var_dir: Path) -> tuple[str, str]:
    return stored_secret(env, var_dir, VARIABLE, generate=lambda: secrets.token_urlsafe(32), min_length=MIN_LENGTH)
