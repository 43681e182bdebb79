"""Personal data at rest: the BSN is encrypted (Fernet); the key comes from settings, never from code."""

from __future__ import annotations

import os

from cryptography.fernet import Fernet

from config.settings import Settings


def bsn_cipher(settings: Settings) -> Fernet:
    """The cipher for BSNs; without a configured key, one kept in a private file in the data folder."""
    if settings.bsn_key is not None:
        return Fernet(settings.bsn_key.get_secret_value().encode())
    path = settings.data_dir / "bsn.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return Fernet(path.read_bytes().strip())
