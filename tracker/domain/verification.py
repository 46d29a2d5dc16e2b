"""What anyone holding a certificate can check: is its code ours, and is it still the latest?"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.models import Occurrence, Series
from tracker.domain.models import REVOKED_REASON_MAX, Certificate, Physician
from tracker.domain.schemas import CertificateCheck, CertificateStatus, WithdrawalReason


async def check_certificate(
    session: AsyncSession, code: str
) -> tuple[CertificateCheck, str] | None:
    """The check of the certificate with this code and its series' timezone (to show the
    session's time where it took place); ``None`` when no certificate has it. A certificate
    that a newer version replaced is not valid and names its successor (the latest), and
    whether that one was revoked in turn, so that the chain never points to a void certificate
    as if it were in force."""
    certificate = (await session.exec(select(Certificate).where(Certificate.code == code))).first()
    if certificate is None:
        return None
    physician = await session.get_one(Physician, certificate.physician_id)
    occurrence = await session.get_one(Occurrence, certificate.occurrence_id)
    series = await session.get_one(Series, occurrence.series_id)
    newer = (
        await session.exec(
            select(Certificate.code, Certificate.revoked_at)
            .where(
                Certificate.occurrence_id == certificate.occurrence_id,
                Certificate.physician_id == certificate.physician_id,
                Certificate.version > certificate.version,
            )
            .order_by(col(Certificate.version).desc())
        )
    ).first()
    status: CertificateStatus = (
        "revoked"
        if certificate.revoked_at is not None
        else "superseded"
        if newer is not None
        else "withdrawn"
        if certificate.withdrawn_at is not None
        else "valid"
    )
    check = CertificateCheck(
        code=certificate.code,
        valid=status == "valid",
        status=status,
        superseded_by=newer[0] if newer else None,
        superseded_by_revoked_at=newer[1] if newer else None,
        revoked_at=certificate.revoked_at,
        withdrawn_at=certificate.withdrawn_at,
        withdrawn_reason=cast(WithdrawalReason | None, certificate.withdrawn_reason),
        physician=certificate.holder(physician),
        series_title=series.title,
        session_start=occurrence.start,
        minutes=certificate.minutes,
        credits=certificate.credits,
        issued_at=certificate.issued_at,
    )
    return check, series.timezone


async def revoke_certificate(
    session: AsyncSession, code: str, now: datetime, reason: str | None = None
) -> bool:
    """Mark the certificate with this code revoked, with the organiser's reason if any (kept
    as it was if it already is); False when no certificate has the code. Flushed; the service
    commits."""
    certificate = (await session.exec(select(Certificate).where(Certificate.code == code))).first()
    if certificate is None:
        return False
    if certificate.revoked_at is None:
        certificate.revoked_at = now
        certificate.revoked_reason = (reason or "").strip()[:REVOKED_REASON_MAX] or None
        session.add(certificate)
        await session.flush()
    return True
