"""The secret salt that makes LeadQ's pseudonyms (Privacy log, pseudonymised export) one-way.

An email hashed without a secret can be found again by hashing a list of guessed emails; with
the salt kept outside the workbook, whoever holds only the workbook or an export cannot. The
salt is, in order: `$LEADQ_PRIVACY_SALT`, else the file `.leadq-salt` beside the workbook
(created on first use, readable by its owner only). Keep that file (or the variable) safe and
backed up: with another salt, the same email gets another hash, and old log lines can no longer
be matched to a request.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ENV_SALT = "LEADQ_PRIVACY_SALT"
SALT_FILE = ".leadq-salt"


def privacy_salt(workbook, env: dict | None = None, create: bool = True) -> tuple[bytes, str]:
    """(salt, where it lives) for a workbook; creates the salt file beside it when there is none
    (unless not `create`: a dry run writes nothing, and uses a salt of the moment)."""
    env = os.environ if env is None else env
    if env.get(ENV_SALT):
        return env[ENV_SALT].encode("utf-8"), f"${ENV_SALT}"
    path = Path(workbook).resolve().parent / SALT_FILE
    if not path.exists() and not create:
        return secrets.token_hex(32).encode("ascii"), f"{path} (not created: --dry-run)"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
    return path.read_text("ascii").strip().encode("ascii"), str(path)
