"""Verifiable credentials: a physician's Open Badges credential, the issuer's DID document, the
status lists, and an organiser revoking a certificate.

Reading a credential may write once: the first use of the database's signing key stores it
(insert-or-ignore, then read), so that use case commits.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import utcnow
from tracker.domain import credentials, signing, verification
from tracker.domain.models import Certificate, Physician
from tracker.domain.schemas import CertificateCheck
from tracker.services.context import Services


@functools.lru_cache(maxsize=4)
def _file_key(path: Path) -> Ed25519PrivateKey:
    """The key of ``TRACKER_SIGNING_KEY_FILE``, read once per process (a new key: restart)."""
    return signing.parse_key(path.read_bytes())


async def _key(services: Services, session: AsyncSession) -> Ed25519PrivateKey:
    path = services.settings.signing_key_file
    if path is not None:
        return _file_key(path)
    return await signing.signing_key(session)


async def signing_key(services: Services) -> Ed25519PrivateKey:
    """The provider's key: from the file if one is set, else the database's (made if absent)."""
    async with services.database.session() as session:
        key = await _key(services, session)
        await session.commit()
    return key


async def did_document(services: Services) -> dict[str, Any]:
    return credentials.did_document(services.settings.base_url, await signing_key(services))


async def my_credential(services: Services, physician: Physician, occurrence_id: int) -> str | None:
    """The physician's latest certificate for the occurrence as a signed VC-JWT; ``None``
    when they have none."""
    async with services.database.session() as session:
        found = await credentials.certificate_for(session, physician.id or 0, occurrence_id)
        if found is None:
            return None
        key = await _key(services, session)
        await session.commit()
    certificate, holder, occurrence, series = found
    credential = credentials.open_badge(
        certificate,
        holder,
        occurrence,
        series,
        base_url=services.mail.base_url,
        provider=services.mail.provider,
        labels=services.mail.labels,
    )
    return credentials.sign(credential, key, services.settings.base_url)


async def status_list(services: Services, number: int, *, now: datetime | None = None) -> str:
    """Status list ``number`` as a signed VC-JWT: revoked and superseded certificates set."""
    async with services.database.session() as session:
        indexes = await credentials.revoked_indexes(session, number)
        key = await _key(services, session)
        await session.commit()
    base_url = services.settings.base_url
    credential = credentials.status_list_credential(base_url, number, indexes, now or utcnow())
    return credentials.sign(credential, key, base_url)


async def revoke_certificate(
    services: Services, code: str, reason: str | None = None
) -> CertificateCheck | None:
    """An organiser revokes a certificate (saying why, or not); its check after, or ``None``
    for an unknown code."""
    async with services.database.session() as session:
        if not await verification.revoke_certificate(session, code, utcnow(), reason):
            return None
        await session.commit()
        found = await verification.check_certificate(session, code)
    return found[0] if found else None


async def certificate_to_revoke(
    services: Services, code: str
) -> tuple[Certificate, CertificateCheck, str] | None:
    """The certificate with this code as the organiser's revoke page shows it: the row (whose
    physician and reason), its check and its series' timezone; ``None`` for an unknown code."""
    async with services.database.session() as session:
        found = await verification.check_certificate(session, code)
        if found is None:
            return None
        certificate = (
            await session.exec(select(Certificate).where(Certificate.code == code))
        ).one()
    check, timezone = found
    return certificate, check, timezone
