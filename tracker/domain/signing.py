"""The provider's Ed25519 key, which signs the Open Badges credentials and the status list.

Either ``TRACKER_SIGNING_KEY_FILE`` names a PKCS #8 PEM file (an operator's key, kept outside the
database and its backups), or the database keeps one: the first process that needs it inserts a
fresh key with ``INSERT … ON CONFLICT DO NOTHING`` and every process then reads the stored row,
so two processes racing at their first start still sign with one key. The ``cryptography``
package makes and reads the key; nothing here is hand-written cryptography.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import utcnow
from tracker.domain.models import SigningKey
from tracker.errors import ConfigError

#: The row of the key that signs credentials.
CREDENTIALS = "credentials"


def pem_of(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def parse_key(pem: str | bytes) -> Ed25519PrivateKey:
    """An unencrypted PKCS #8 PEM Ed25519 private key; :class:`ConfigError` for anything else."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"the signing key must be Ed25519, not {type(key).__name__}")
    return key


async def signing_key(session: AsyncSession, name: str = CREDENTIALS) -> Ed25519PrivateKey:
    """The stored key named ``name``, made and stored first if there is none yet (flushed; the
    service commits). Whoever inserted first wins: a losing insert is ignored and the winner's
    row is what everyone reads."""
    stored = await session.get(SigningKey, name)
    if stored is None:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await session.exec(
            insert(SigningKey)
            .values(
                name=name, private_key=pem_of(Ed25519PrivateKey.generate()), created_at=utcnow()
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
        stored = await session.get_one(SigningKey, name, populate_existing=True)
    return parse_key(stored.private_key)
