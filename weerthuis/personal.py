"""Personal data at rest: the BSN is encrypted (Fernet); the key comes from settings, never from code.

Fernet is not deterministic (the same BSN encrypts differently each time), so finding a client by BSN goes through a
keyed digest instead: HMAC-SHA256 of the nine digits, under a key derived (HKDF) from the BSN key. Without the key
the digest tells nothing, not even for the small space of valid BSNs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from config.settings import Settings

# Fixed for good: a different value would make every stored digest unfindable.
DIGEST_INFO = b"weerthuis bsn-digest v1"


def stored_bsn_key(settings: Settings) -> bytes | None:
    """The BSN key if one is configured or its file exists; never makes one."""
    if settings.bsn_key is not None:
        return settings.bsn_key.get_secret_value().encode()
    path = settings.data_dir / "bsn.key"
    return path.read_bytes().strip() if path.exists() else None


def bsn_key(settings: Settings) -> bytes:
    """The BSN key; without a configured one, one kept in a private file in the data folder (made once)."""
    key = stored_bsn_key(settings)
    if key is not None:
        return key
    path = settings.data_dir / "bsn.key"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(Fernet.generate_key())
    return path.read_bytes().strip()


def bsn_cipher(settings: Settings) -> Fernet:
    """The cipher for BSNs; without a configured key, one kept in a private file in the data folder."""
    return Fernet(bsn_key(settings))


def bsn_digest(key: bytes, bsn: str) -> str:
    """The keyed digest of a normalised BSN (64 hex characters), the same every time for the same key."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DIGEST_INFO).derive(
        base64.urlsafe_b64decode(key)
    )
    return hmac.new(derived, bsn.encode(), hashlib.sha256).hexdigest()


_clients = sa.table(
    "clients",
    sa.column("id", sa.Integer()),
    sa.column("bsn_encrypted", sa.LargeBinary()),
    sa.column("bsn_digest", sa.String()),
)


def fill_bsn_digests(connection: sa.Connection, key: bytes) -> tuple[int, int]:
    """Give every client with an encrypted BSN but no digest its digest; returns (filled, not readable).

    A BSN this key does not decrypt (another data folder's key) is left without a digest, never given a wrong one.
    Used by migration 0009 and by `weerthuis migrate` / `register` for rows the migration could not fill.
    """
    cipher = Fernet(key)
    rows = connection.execute(
        sa.select(_clients.c.id, _clients.c.bsn_encrypted).where(
            _clients.c.bsn_encrypted.is_not(None), _clients.c.bsn_digest.is_(None)
        )
    ).all()
    filled = unreadable = 0
    for client_id, encrypted in rows:
        try:
            bsn = cipher.decrypt(bytes(encrypted)).decode()
        except InvalidToken:
            unreadable += 1
            continue
        connection.execute(
            sa.update(_clients).where(_clients.c.id == client_id).values(bsn_digest=bsn_digest(key, bsn))
        )
        filled += 1
    return filled, unreadable
