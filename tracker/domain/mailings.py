"""What to send, to whom, and under which outbox key: reminders, notices, certificates and
monthly statements. Composition and delivery live in ``notifications``; this module decides.

Keys say what a message is, so asking twice enqueues once:
``reminder:{occurrence}:{physician}:{offset}:{start}`` (a moved session gets new reminders),
``notice:{occurrence}:{physician}:{sequence}``, ``certificate:{occurrence}:{physician}:v{version}``,
``statement:{physician}:{YYYY-MM}``, ``welcome:{physician}:{token generation}`` (a new token
may be welcomed anew; a re-import of the same physician is not), ``sign-in:{link}``.

Several processes may run the same job at the same moment (SPEC 5): the outbox inserts each key
once without breaking the loser's transaction, certificates are inserted the same way, and an
unsubscribe token is set only where none is, so every message queued carries the token that
stays. A message that cannot be composed is logged with its key and recorded as a failed row;
the rest of the batch goes on.
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import contextlib
import functools
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from pydantic import TypeAdapter
from sqlalchemy import not_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notifications.addresses import (
    MAX_LENGTH,
    Mailbox,
    envelope_address,
    normalise_address,
    parse_mailbox,
)
from notifications.compose import (
    Attachment,
    Stencil,
    alternative_bytes,
    build_message,
    render,
    stencil,
)
from notifications.models import OutboxMessage, OutboxStatus
from notifications.outbox import enqueue, exists, recipient_of, record_unsendable, serialise
from notifications.pdf import CertificateData, certificate_pdf, statement_pdf
from notifications.rendering import INLINE, Renderer
from schedules.ical import FeedMeta, build_invitation
from schedules.models import Occurrence, OccurrenceStatus, Series
from schedules.wording import CreditLabels, credit_amount, number
from tracker.domain import claims, credit_rules, revocations, withdrawals, zoom
from tracker.domain.awards import claimed_figures, credit_summary, progress_from
from tracker.domain.documents import (
    CertificateIdentity,
    certificate_data,
    designation,
    statement_data,
)
from tracker.domain.localtime import day, month_label, session_date, when, zone_name
from tracker.domain.models import Award, Certificate, Claim, Physician, Registration
from tracker.domain.physicians import Newcomer
from tracker.errors import CertificateRevokedError, CertificateWithdrawnError

log = logging.getLogger(__name__)
_DURATION = TypeAdapter(timedelta)


@dataclass(frozen=True)
class MailSettings:
    """Who sends (``sender`` may be ``Name <address>``), from where, the credit labels, and who
    stands behind the certificates."""

    base_url: str
    sender: str
    provider: str
    labels: CreditLabels = field(default_factory=CreditLabels)
    certificate: CertificateIdentity = field(default_factory=CertificateIdentity)
    #: ``{credit type: regime}`` (issue 11 point 6): whose certificate fields each type prints.
    regimes: dict[str, str] = field(default_factory=dict)

    @property
    def domain(self) -> str:
        return urlsplit(self.base_url).hostname or "localhost"

    @functools.cached_property
    def sender_address(self) -> str:
        """The bare sender address (for an invitation's ORGANIZER)."""
        return parse_mailbox(self.sender).address

    @functools.cached_property
    def sender_name(self) -> str:
        """The sender's display name, or the provider's name (an invitation's ORGANIZER CN)."""
        return parse_mailbox(self.sender).name or self.provider


def _credit_lines(
    credits: dict[str, float], labels: CreditLabels, language: str
) -> list[tuple[str, str]]:
    """``(label, amount)`` per credit type, the label and the amount as the reader writes them
    (``heures DPC``, ``1,0`` / ``DPC hours``, ``1.0``)."""
    return [
        (labels.label(code, language), credit_amount(value, language))
        for code, value in sorted(credits.items())
    ]


#: Messages per transaction when a service queues one kind of email to many physicians: a
#: short write lock on SQLite, and progress kept if the run stops half-way.
MAIL_BATCH = 200

Recipients = Sequence[tuple[Registration, Physician]]


async def reminder_recipients(session: AsyncSession, series_id: int) -> Recipients:
    """Who gets a series' reminders and notices: registered, reminders wanted, in id order."""
    return await _recipients(session, series_id, wanting_reminders=True)


async def notice_recipients(
    session: AsyncSession, series_id: int, occurrence_id: int
) -> list[tuple[Registration, Physician]]:
    """Who gets a session's cancellation, move or restoration: those who want the series'
    reminders, and those who stopped them after a reminder had put this session's invitation
    in their calendar (else their calendar keeps a session that will not take place, or at a
    time it is no longer held). In id order."""
    everyone = await _recipients(session, series_id, wanting_reminders=False)
    stopped = [p.id for r, p in everyone if not r.reminders]
    invited: set[int | None] = set()
    if stopped:
        invited = set(
            (
                await session.exec(
                    select(OutboxMessage.physician_id).where(
                        OutboxMessage.kind == "reminder",
                        OutboxMessage.occurrence_id == occurrence_id,
                        OutboxMessage.status == OutboxStatus.SENT,
                        col(OutboxMessage.physician_id).in_(stopped),
                    )
                )
            ).all()
        )
    return [(r, p) for r, p in everyone if r.reminders or p.id in invited]


async def _recipients(
    session: AsyncSession, series_id: int, *, wanting_reminders: bool
) -> list[tuple[Registration, Physician]]:
    query = (
        select(Registration, Physician)
        .join(Physician, col(Physician.id) == col(Registration.physician_id))
        .where(Registration.series_id == series_id)
        .order_by(col(Physician.id))
    )
    if wanting_reminders:
        query = query.where(col(Registration.reminders).is_(True))
    return [(r, p) for r, p in (await session.exec(query)).all()]


async def unsubscribe_url(
    session: AsyncSession, mail: MailSettings, registration: Registration
) -> str:
    """The registration's one-click link; its token is set once, by whichever process comes
    first (only where none is yet), so a link already queued by another process keeps working."""
    if registration.unsubscribe_token is None:
        await session.exec(
            update(Registration)
            .where(
                col(Registration.id) == registration.id,
                col(Registration.unsubscribe_token).is_(None),
            )
            .values(unsubscribe_token=secrets.token_urlsafe(24))
        )
        token = (
            await session.exec(
                select(Registration.unsubscribe_token).where(Registration.id == registration.id)
            )
        ).one()
        set_committed_value(registration, "unsubscribe_token", token)
    return f"{mail.base_url}/unsubscribe/{registration.unsubscribe_token}"


def _invitation(
    series: Series,
    occurrence: Occurrence,
    mail: MailSettings,
    *,
    method: str,
    attendee: str,
    now: datetime,
) -> bytes:
    meta = FeedMeta(
        name=series.title,
        description="",
        source_url=mail.base_url,
        provider=mail.provider,
        credit_labels=mail.labels,
    )
    return build_invitation(
        series,
        occurrence,
        meta,
        method=method,
        organizer=mail.sender_address,
        organizer_name=mail.sender_name,
        attendee=attendee,
        stamp=now,
    )


class Addressee(Protocol):
    """Whom a message is written to: a physician, or someone asking to register."""

    first_name: str
    last_name: str
    email: str
    language: str


def message_for(
    person: Addressee,
    mail: MailSettings,
    kind: str,
    context: dict[str, Any],
    *,
    now: datetime,
    **options: Any,
) -> EmailMessage:
    """``kind`` rendered for one person (their name, their language), as a whole message."""
    rendered = render(
        kind,
        person.language,
        {"first_name": person.first_name, "last_name": person.last_name, **context},
    )
    return build_message(
        rendered,
        sender=mail.sender,
        recipient=person.email,
        recipient_name=f"{person.first_name} {person.last_name}",
        domain=mail.domain,
        now=now,
        **options,
    )


async def queue_message(
    session: AsyncSession,
    compose: Callable[[], EmailMessage],
    *,
    key: str,
    kind: str,
    recipient: str,
    physician_id: int | None,
    occurrence_id: int | None = None,
    now: datetime,
    status: OutboxStatus = OutboxStatus.PENDING,
    note: str | None = None,
) -> bool:
    """Compose and enqueue one message. A message that cannot be composed is never a silent
    drop, nor the end of the batch: it is logged with its key and recorded as a failed row."""
    try:
        message = compose()
    except Exception as exc:
        log.exception("could not compose %s to %s", key, recipient)
        return await record_unsendable(
            session,
            key=key,
            kind=kind,
            recipient=recipient,
            reason=f"could not compose this message: {type(exc).__name__}: {exc}",
            occurrence_id=occurrence_id,
            physician_id=physician_id,
            now=now,
        )
    return await enqueue(
        session,
        key=key,
        kind=kind,
        message=message,
        occurrence_id=occurrence_id,
        physician_id=physician_id,
        now=now,
        status=status,
        note=note,
    )


async def _queue(
    session: AsyncSession,
    compose: Callable[[], EmailMessage],
    *,
    physician: Physician,
    **fields: Any,
) -> bool:
    """:func:`queue_message` to a physician."""
    return await queue_message(
        session, compose, recipient=physician.email, physician_id=physician.id, **fields
    )


# Reminders ---------------------------------------------------------------------------------


def offsets(series: Series) -> list[tuple[str, timedelta]]:
    return [(text, _DURATION.validate_python(text)) for text in series.reminders]


async def reminders_due(
    session: AsyncSession, *, after: datetime, until: datetime
) -> list[tuple[Occurrence, Series, str, datetime]]:
    """Every (occurrence, offset) whose reminder time lies in (after, until], in time order."""
    query = (
        select(Occurrence, Series)
        .join(Series, col(Series.id) == col(Occurrence.series_id))
        .where(
            Occurrence.status != OccurrenceStatus.CANCELLED,
            Occurrence.start > after,
            Occurrence.start <= until + timedelta(days=61),
        )
    )
    due: list[tuple[Occurrence, Series, str, datetime]] = []
    for occurrence, series in (await session.exec(query)).all():
        for text, delta in offsets(series):
            moment = occurrence.start - delta
            if after < moment <= until:
                due.append((occurrence, series, text, moment))
    return sorted(due, key=lambda item: (item[3], item[0].id or 0))


def _reminder(
    physician: Physician,
    mail: MailSettings,
    series: Series,
    occurrence: Occurrence,
    link: str,
    now: datetime,
) -> EmailMessage:
    return message_for(
        physician,
        mail,
        "reminder",
        {
            "series_title": series.title,
            "start_text": when(occurrence.start, physician.timezone, physician.language),
            "timezone": zone_name(physician.timezone, physician.language),
            "join_url": series.join_url,
            "statement": designation(series, mail, physician.language),
            "unsubscribe_url": link,
        },
        now=now,
        headers={
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        calendar=(
            _invitation(
                series, occurrence, mail, method="REQUEST", attendee=physician.email, now=now
            ),
            "REQUEST",
        ),
    )


async def enqueue_reminders(
    session: AsyncSession,
    mail: MailSettings,
    occurrence: Occurrence,
    series: Series,
    offset: str,
    *,
    now: datetime,
    recipients: Recipients | None = None,
) -> int:
    """Reminders of one occurrence at one offset to ``recipients`` (default: everyone who wants
    them); recorded as skipped if the session started. The caller commits."""
    if occurrence.status == OccurrenceStatus.CANCELLED:
        return 0
    started = occurrence.start <= now
    queued = 0
    if recipients is None:
        recipients = await reminder_recipients(session, series.id or 0)
    personal = await zoom.personal_links(
        session, series.id or 0, [p.id or 0 for _, p in recipients]
    )
    for registration, physician in recipients:
        key = f"reminder:{occurrence.id}:{physician.id}:{offset}:{occurrence.start:%Y%m%dT%H%M%SZ}"
        if await exists(session, key):
            continue
        link = await unsubscribe_url(session, mail, registration)
        theirs = zoom.with_join_url(series, personal.get(physician.id or 0))  # Zoom link (SPEC 8)
        compose = functools.partial(_reminder, physician, mail, theirs, occurrence, link, now)
        queued += await _queue(
            session,
            compose,
            key=key,
            kind="reminder",
            physician=physician,
            occurrence_id=occurrence.id,
            now=now,
            status=OutboxStatus.SKIPPED if started else OutboxStatus.PENDING,
            note="the session had started when this reminder came due" if started else None,
        )
    return queued


# Cancellation and move notices ---------------------------------------------------------------


def _notice(
    physician: Physician,
    mail: MailSettings,
    series: Series,
    occurrence: Occurrence,
    now: datetime,
) -> EmailMessage:
    change = _change(occurrence)
    method = "CANCEL" if change == "cancelled" else "REQUEST"
    return message_for(
        physician,
        mail,
        "notice",
        {
            "series_title": series.title,
            "change": change,
            "timezone": zone_name(physician.timezone, physician.language),
            "join_url": series.join_url,
            "start_text": when(occurrence.start, physician.timezone, physician.language),
            "rule_start_text": when(
                occurrence.recurrence_id, physician.timezone, physician.language
            ),
        },
        now=now,
        calendar=(
            _invitation(series, occurrence, mail, method=method, attendee=physician.email, now=now),
            method,
        ),
    )


async def enqueue_notices(
    session: AsyncSession,
    mail: MailSettings,
    occurrence_id: int,
    *,
    now: datetime,
    recipients: Recipients | None = None,
) -> int:
    """After a cancel, move or restore: an updated invitation to ``recipients`` (default:
    :func:`notice_recipients`), for a session still to come. The caller commits."""
    occurrence = await session.get(Occurrence, occurrence_id)
    if occurrence is None or max(occurrence.end, occurrence.recurrence_id) <= now:
        return 0
    series = await session.get_one(Series, occurrence.series_id)
    queued = 0
    if recipients is None:
        recipients = await notice_recipients(session, series.id or 0, occurrence_id)
    for _registration, physician in recipients:
        key = f"notice:{occurrence.id}:{physician.id}:{occurrence.sequence}"
        if await exists(session, key):
            continue

        compose = functools.partial(_notice, physician, mail, series, occurrence, now)
        queued += await _queue(
            session,
            compose,
            key=key,
            kind="notice",
            physician=physician,
            occurrence_id=occurrence.id,
            now=now,
        )
    return queued


def _change(occurrence: Occurrence) -> str:
    """What a notice tells: ``cancelled``; ``moved`` (to ``start``, away from the rule's time);
    or ``restored`` (back at the rule's time, after a cancellation or a move)."""
    if occurrence.status == OccurrenceStatus.CANCELLED:
        return "cancelled"
    return "moved" if occurrence.status == OccurrenceStatus.MOVED else "restored"


# Certificates ---------------------------------------------------------------------------------


def certificate_document(
    certificate: Certificate,
    physician: Physician,
    occurrence: Occurrence,
    series: Series,
    mail: MailSettings,
) -> bytes:
    return certificate_pdf(certificate_data(certificate, physician, occurrence, series, mail))


async def latest_certificate_pdf(
    session: AsyncSession, mail: MailSettings, physician: Physician, occurrence_id: int
) -> tuple[str, bytes] | None:
    """The newest certificate of ``physician`` for an occurrence, as (code, PDF), if any;
    raises ``CertificateRevokedError`` when an organiser revoked it, ``CertificateWithdrawnError``
    when the corrected award earns no credit (:mod:`tracker.domain.withdrawals`)."""
    certificate = (
        await session.exec(
            select(Certificate)
            .where(
                Certificate.occurrence_id == occurrence_id, Certificate.physician_id == physician.id
            )
            .order_by(col(Certificate.version).desc())
        )
    ).first()
    if certificate is None:
        return None
    if certificate.revoked_at is not None:
        raise CertificateRevokedError(certificate.code)
    if certificate.withdrawn_at is not None:
        raise CertificateWithdrawnError(certificate.code)
    occurrence = await session.get_one(Occurrence, certificate.occurrence_id)
    series = await session.get_one(Series, occurrence.series_id)
    series = credit_rules.as_credited(
        series, await credit_rules.session_rules(session, occurrence, series)
    )
    data = certificate_data(certificate, physician, occurrence, series, mail)
    # Drawing takes a second or two when a CJK font has to be loaded: off the event loop.
    return certificate.code, await asyncio.to_thread(certificate_pdf, data)


def _new_code() -> str:
    """140 random bits as 28 base32 symbols in four groups (``ABCDEFG-HIJKLMN-...``): beyond
    guessing (SPEC 7 asks for 128), case-insensitive, with no 0 or 1 to mistake for O or I. Codes of
    the older 48-bit format (``ABCD-EF01-2345``) are still looked up as they are."""
    raw = base64.b32encode(secrets.token_bytes(20)).decode("ascii")[:28]
    return "-".join(raw[i : i + 7] for i in range(0, 28, 7))


def _certificate_facts(
    physician: Physician,
    mail: MailSettings,
    series: Series,
    occurrence: Occurrence,
    certificate: Certificate,
) -> dict[str, Any]:
    """What the emails about one certificate say of it, in the physician's language and zone:
    the session, the minutes and credits it attests, its public check link."""
    return {
        "series_title": series.title,
        "start_text": when(occurrence.start, physician.timezone, physician.language),
        "timezone": zone_name(physician.timezone, physician.language),
        "minutes": number(certificate.minutes, physician.language),
        "credits": _credit_lines(certificate.credits, mail.labels, physician.language),
        "verify_url": f"{mail.base_url}/certificates/{certificate.code}",
    }


def _certificate_parts(
    physician: Physician,
    mail: MailSettings,
    series: Series,
    occurrence: Occurrence,
    certificate: Certificate,
    reissued: bool,
    pdf: bytes | None = None,
) -> tuple[dict[str, Any], Attachment]:
    """The certificate email's template values, and its PDF (drawn here unless given);
    ``reissued``: it replaces an earlier certificate of the session (a first certificate may be
    a later award version: one issued when a restored session's credit came back)."""
    if pdf is None:
        pdf = certificate_document(certificate, physician, occurrence, series, mail)
    context = {
        **_certificate_facts(physician, mail, series, occurrence, certificate),
        "reissued": reissued,
    }
    return context, Attachment(f"certificate-{certificate.code}.pdf", pdf, "application", "pdf")


def _certificate(
    physician: Physician,
    mail: MailSettings,
    series: Series,
    occurrence: Occurrence,
    certificate: Certificate,
    reissued: bool,
    now: datetime,
) -> EmailMessage:
    context, pdf = _certificate_parts(physician, mail, series, occurrence, certificate, reissued)
    return message_for(physician, mail, "certificate", context, now=now, attachments=(pdf,))


def _certificate_row(
    key: str,
    physician: Physician,
    mail: MailSettings,
    sender: Mailbox,
    parts: Callable[[], tuple[dict[str, Any], Attachment]],
    occurrence_id: int,
    now: datetime,
) -> dict[str, object] | None:
    """The outbox row of one certificate email, its bytes written directly
    (:func:`notifications.compose.alternative_bytes`, a tenth of the ``email`` package's time);
    ``None`` when that path cannot write it (an address to refuse, an unusual file name, a
    failure): the general path then composes it, and records why it cannot be sent."""
    try:
        recipient = normalise_address(physician.email, anywhere=True)
        context, pdf = parts()
        rendered = render(
            "certificate",
            physician.language,
            {"first_name": physician.first_name, "last_name": physician.last_name, **context},
        )
        message_id, raw = alternative_bytes(
            rendered,
            sender=sender,
            recipient=recipient,
            recipient_name=f"{physician.first_name} {physician.last_name}",
            domain=mail.domain,
            now=now,
            attachments=(pdf,),
        )
    except Exception:  # the general path says what went wrong
        return None
    return _pending_values(key, physician, occurrence_id, now) | {
        "recipient": envelope_address(recipient),
        "subject": rendered.subject[:500],
        "message_id": message_id,
        "raw": raw,
    }


def _pending_values(
    key: str, physician: Physician, occurrence_id: int, now: datetime
) -> dict[str, object]:
    """What every certificate email's outbox row starts with, before its message."""
    return {
        "key": key,
        "kind": "certificate",
        "occurrence_id": occurrence_id,
        "physician_id": physician.id,
        "status": OutboxStatus.PENDING,
        "last_error": None,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


#: Certificates one transaction queues: the calling service commits after each batch, so an
#: interrupted run keeps what it committed and the next one resumes after it.
CERTIFICATE_BATCH = 200


@dataclass(frozen=True)
class CertificateBatch:
    """What one call of :func:`issue_certificates` did: ``queued`` emails, and the last
    physician it looked at (``None``: no award was left after ``after``)."""

    queued: int
    last: int | None


def _certificate_key(occurrence_id: int, physician_id: int, version: int) -> str:
    return f"certificate:{occurrence_id}:{physician_id}:v{version}"


def _outbox_values(
    key: str,
    physician: Physician,
    occurrence_id: int,
    compose: Callable[[], EmailMessage],
    now: datetime,
) -> dict[str, object]:
    """The outbox row of one certificate email, as ``notifications.outbox.enqueue`` would store
    it (a recipient that cannot be sent to, or a message that cannot be composed, gives a
    ``failed`` row holding the reason), without its commit."""
    values = _pending_values(key, physician, occurrence_id, now)
    try:
        message = compose()
    except Exception as exc:
        log.exception("could not compose %s to %s", key, physician.email)
        return values | {
            "recipient": physician.email[:MAX_LENGTH],
            "subject": "",
            "message_id": "",
            "raw": b"",
            "status": OutboxStatus.FAILED,
            "last_error": f"could not compose this message: {type(exc).__name__}: {exc}",
        }
    recipient, problem = recipient_of(message)
    return values | {
        "recipient": recipient,
        "subject": str(message["Subject"] or "")[:500],
        "message_id": str(message["Message-ID"]),
        "raw": serialise(message),
        "status": OutboxStatus.FAILED if problem else OutboxStatus.PENDING,
        "last_error": problem,
    }


def _documents(
    wanted: dict[str, tuple[Award, Physician]],
    certificates: dict[str, Certificate],
    occurrence: Occurrence,
    series: Series,
    mail: MailSettings,
) -> dict[str, CertificateData]:
    """What each certificate prints, by outbox key; one that cannot be worded is left out (its
    email's general path words it again and records why it failed)."""
    documents: dict[str, CertificateData] = {}
    for key, (_award, physician) in wanted.items():
        try:
            documents[key] = certificate_data(
                certificates[key], physician, occurrence, series, mail
            )
        except Exception:  # reported by the general path
            continue
    return documents


def _insert_ignoring(session: AsyncSession, table: Any, unique: list[str]) -> Any:
    """``INSERT … ON CONFLICT (unique) DO NOTHING`` for this session's engine."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=unique)


async def _stored_certificates(
    session: AsyncSession, occurrence_id: int, physician_ids: list[int]
) -> dict[tuple[int, int], Certificate]:
    """The certificates of these physicians at this occurrence, by (physician, version)."""
    if not physician_ids:
        return {}
    rows = await session.exec(
        select(Certificate).where(
            Certificate.occurrence_id == occurrence_id,
            col(Certificate.physician_id).in_(physician_ids),
        )
    )
    return {(c.physician_id, c.version): c for c in rows.all()}


async def issue_certificates(
    session: AsyncSession,
    mail: MailSettings,
    occurrence_id: int,
    *,
    now: datetime,
    after: int = 0,
    limit: int = CERTIFICATE_BATCH,
    pdfs: Renderer = INLINE,
) -> CertificateBatch:
    """A certificate (and its email) for each final award with credit of the next ``limit``
    physicians after ``after`` (by id); a changed award, a new one. Flushes; the caller commits.
    A session whose latest certificate an organiser revoked gets nothing, however its award
    changes (:mod:`tracker.domain.revocations`).

    Whatever the batch size, a batch reads its awards, the outbox keys already queued and the
    certificates already stored in one query each, composes the emails before writing (so that
    SQLite's write lock is held only for the two inserts), then writes the new certificates and
    the emails in one statement each. Both inserts skip what another process stored first: a
    certificate stored meanwhile is read back and its email composed anew with that code, so
    every process sends the same code, and each key is queued once. ``pdfs`` draws the PDFs
    (:mod:`notifications.rendering`: in worker processes, the service's, or on the loop).
    """
    occurrence = await session.get(Occurrence, occurrence_id)
    if occurrence is None:
        return CertificateBatch(0, None)
    series = await session.get_one(Series, occurrence.series_id)
    # what the certificates print as designated: the rules the session was credited under
    series = credit_rules.as_credited(
        series, await credit_rules.session_rules(session, occurrence, series)
    )
    rows = (
        await session.exec(
            select(Award, Physician)
            .join(Physician, col(Physician.id) == col(Award.physician_id))
            .where(
                Award.occurrence_id == occurrence_id,
                col(Award.final).is_(True),
                col(Award.physician_id) > after,
                # a revocation stays in force: a recomputed award issues nothing after it
                not_(revocations.session_revoked(Award.occurrence_id, Award.physician_id)),
            )
            .order_by(col(Award.physician_id))
            .limit(limit)
        )
    ).all()
    if not rows:
        return CertificateBatch(0, None)
    last = rows[-1][0].physician_id
    wanted = {
        _certificate_key(occurrence_id, award.physician_id, award.version): (award, physician)
        for award, physician in rows
        if claims.gives_credit(award.credits)
    }
    #: awards that earn no credit (any more): their certificate, if one stands, is withdrawn
    lapsed = {
        award.physician_id: (award, physician)
        for award, physician in rows
        if not claims.gives_credit(award.credits)
    }
    if wanted:
        queued_keys = await session.exec(
            select(OutboxMessage.key).where(col(OutboxMessage.key).in_(list(wanted)))
        )
        for key in queued_keys.all():
            del wanted[key]
    overrides: dict[str, tuple[int, dict[str, float]]] = {}
    invited = 0
    if wanted:  # a claim made stands even if the series stopped requiring claims since
        overrides, invited = await _claims_first(
            session, mail, series, occurrence, wanted, lapsed, now
        )
    invited += await _withdraw(session, mail, series, occurrence, lapsed, now)
    if not wanted:
        return CertificateBatch(invited, last)
    physician_ids = [award.physician_id for award, _ in wanted.values()]
    award_versions = {award.physician_id: award.version for award, _ in wanted.values()}
    stored = await _stored_certificates(session, occurrence_id, physician_ids)
    certificates: dict[str, Certificate] = {}
    earlier = {pid for pid, version in stored if version < award_versions.get(pid, 0)}
    for key, (award, physician) in wanted.items():
        seconds, credits = overrides.get(key, (award.seconds, award.credits))
        certificates[key] = stored.get((award.physician_id, award.version)) or Certificate(
            code=_new_code(),
            occurrence_id=occurrence_id,
            physician_id=award.physician_id,
            version=award.version,
            minutes=round(seconds / 60, 2),
            credits=dict(credits),
            issued_at=now,
            holder_name=f"{physician.first_name} {physician.last_name}",
        )

    sender = parse_mailbox(mail.sender)

    def message(key: str, pdf: bytes | None = None) -> dict[str, object]:
        award, physician = wanted[key]
        parts = functools.partial(
            _certificate_parts,
            physician,
            mail,
            series,
            occurrence,
            certificates[key],
            award.physician_id in earlier,
            pdf,
        )
        row = _certificate_row(key, physician, mail, sender, parts, occurrence_id, now)
        if row is not None:
            return row
        compose = functools.partial(
            _certificate,
            physician,
            mail,
            series,
            occurrence,
            certificates[key],
            award.physician_id in earlier,
            now,
        )
        return _outbox_values(key, physician, occurrence_id, compose, now)

    documents = _documents(wanted, certificates, occurrence, series, mail)
    messages: dict[str, dict[str, object]] = {}
    async with contextlib.aclosing(pdfs.render(list(documents.values()))) as drawn:
        for key in wanted:
            # in order (beside the loop when ``pdfs`` has workers); a document that could not
            # be worded or drawn is drawn here again (``None``), to report why
            messages[key] = message(key, await anext(drawn) if key in documents else None)
            await asyncio.sleep(0)  # composing a batch takes a while: let the loop breathe
    new = [c for c in certificates.values() if c.id is None]
    if new:
        await session.exec(
            _insert_ignoring(session, Certificate, ["occurrence_id", "physician_id", "version"]),
            params=[c.model_dump(exclude={"id"}) for c in new],
        )
        stored = await _stored_certificates(session, occurrence_id, [c.physician_id for c in new])
        for key, certificate in certificates.items():
            if certificate.id is None:
                winner = stored[(certificate.physician_id, certificate.version)]
                certificates[key] = winner
                if winner.code != certificate.code:  # another process stored it first
                    messages[key] = message(key)
    inserted = (
        await session.exec(
            _insert_ignoring(session, OutboxMessage, ["key"])
            .values(list(messages.values()))
            .returning(col(OutboxMessage.key))
        )
    ).all()
    return CertificateBatch(len(inserted) + invited, last)


# Claims (SPEC 7) ------------------------------------------------------------------------------


async def _claims_first(
    session: AsyncSession,
    mail: MailSettings,
    series: Series,
    occurrence: Occurrence,
    wanted: dict[str, tuple[Award, Physician]],
    lapsed: dict[int, tuple[Award, Physician]],
    now: datetime,
) -> tuple[dict[str, tuple[int, dict[str, float]]], int]:
    """A claimed award stays in ``wanted`` with the seconds and credit its certificate holds
    (the claim, at most the award as it is now); one whose claim, so capped, earns nothing any
    more moves to ``lapsed`` (its certificate is withdrawn). For a series that requires claims,
    every award not claimed yet leaves ``wanted`` (an attendee with no claim gets one, and the
    email with its link, here). Returns the claimed figures, and how many claim emails were
    queued."""
    found = await claims.claims_of(
        session, occurrence.id or 0, [award.physician_id for award, _ in wanted.values()]
    )
    overrides: dict[str, tuple[int, dict[str, float]]] = {}
    invitations: list[claims.Invitation] = []
    rules = await credit_rules.session_rules(session, occurrence, series)
    for key, (award, physician) in list(wanted.items()):
        claim = found.get(award.physician_id)
        if claim is None or claim.claimed_at is None:
            if series.claim_required:
                del wanted[key]
                if claim is None:
                    invitations.append(claims.Invitation(physician, award, claims.new_code()))
            continue
        seconds, credits = claimed_figures(claim, award, occurrence, rules)
        if claims.gives_credit(credits):
            overrides[key] = (seconds, credits)
        else:
            del wanted[key]
            lapsed[award.physician_id] = (award, physician)
    return overrides, await _invite(session, mail, series, occurrence, invitations, now)


async def _withdraw(
    session: AsyncSession,
    mail: MailSettings,
    series: Series,
    occurrence: Occurrence,
    lapsed: dict[int, tuple[Award, Physician]],
    now: datetime,
) -> int:
    """Withdraw the standing certificate of each of these attendees, whose corrected award
    earns no credit (:mod:`tracker.domain.withdrawals`), and queue the email saying so (once
    per certificate version); returns how many emails were queued. A certificate already
    withdrawn, revoked or replaced is left as it is; the update is a compare-and-set, so two
    processes withdraw a certificate once."""
    if not lapsed:
        return 0
    latest: dict[int, Certificate] = {}
    for (physician_id, version), certificate in (
        await _stored_certificates(session, occurrence.id or 0, list(lapsed))
    ).items():
        if physician_id not in latest or version > latest[physician_id].version:
            latest[physician_id] = certificate
    reason = withdrawals.reason_for(occurrence)
    queued = 0
    for physician_id, certificate in sorted(latest.items()):
        if certificate.revoked_at is not None or certificate.withdrawn_at is not None:
            continue
        changed = await session.exec(
            update(Certificate)
            .where(
                col(Certificate.id) == certificate.id,
                col(Certificate.withdrawn_at).is_(None),
                col(Certificate.revoked_at).is_(None),
            )
            .values(withdrawn_at=now, withdrawn_reason=reason)
        )
        if not changed.rowcount:
            continue
        set_committed_value(certificate, "withdrawn_at", now)
        set_committed_value(certificate, "withdrawn_reason", reason)
        physician = lapsed[physician_id][1]
        compose = functools.partial(
            _withdrawal_message, physician, mail, series, occurrence, certificate, now
        )
        queued += await _queue(
            session,
            compose,
            key=withdrawals.withdrawal_key(occurrence.id or 0, physician_id, certificate.version),
            kind=withdrawals.KIND,
            physician=physician,
            occurrence_id=occurrence.id,
            now=now,
        )
    return queued


def _withdrawal_message(
    physician: Physician,
    mail: MailSettings,
    series: Series,
    occurrence: Occurrence,
    certificate: Certificate,
    now: datetime,
) -> EmailMessage:
    """The email telling a physician their certificate no longer attests credit, and why."""
    context = {
        **_certificate_facts(physician, mail, series, occurrence, certificate),
        "cancelled": certificate.withdrawn_reason == "cancelled",
    }
    return message_for(physician, mail, "certificate_withdrawn", context, now=now)


async def _invite(
    session: AsyncSession,
    mail: MailSettings,
    series: Series,
    occurrence: Occurrence,
    invitations: list[claims.Invitation],
    now: datetime,
) -> int:
    """Store the claims (a claim another process stored first is left alone, and its email is
    that process's) and queue an email with its link to each physician whose claim is new."""
    if not invitations:
        return 0
    inserted = await session.exec(
        _insert_ignoring(session, Claim, ["occurrence_id", "physician_id"]).returning(
            col(Claim.physician_id)
        ),
        params=claims.new_claim_rows(invitations, occurrence, series, now),
    )
    created = {row[0] for row in inserted.all()}
    queued = 0
    for invitation in invitations:
        physician = invitation.physician
        if physician.id not in created:
            continue
        link = claims.claim_url(mail.base_url, invitation.code, physician.language)
        compose = functools.partial(
            _claim_message,
            "claim",
            physician,
            mail,
            series,
            occurrence,
            invitation.award,
            link,
            claims.closes_at(occurrence, series, now),
            now,
        )
        queued += await _queue(
            session,
            compose,
            key=claims.claim_key(occurrence.id or 0, physician.id or 0),
            kind="claim",
            physician=physician,
            occurrence_id=occurrence.id,
            now=now,
        )
    return queued


def _claim_message(
    kind: str,
    physician: Physician,
    mail: MailSettings,
    series: Series,
    occurrence: Occurrence,
    award: Award,
    link: str,
    closes: datetime,
    now: datetime,
) -> EmailMessage:
    """The credits-are-final email of a series that requires claims (``claim``), or its
    reminder (``claim_reminder``): the computed minutes and credit, and the claim link."""
    lines = _credit_lines(award.credits, mail.labels, physician.language)
    context = claims.claim_context(
        physician, series, occurrence, award.seconds, lines, link=link, closes=closes
    )
    return message_for(physician, mail, kind, context, now=now)


async def enqueue_claim_reminder(
    session: AsyncSession, mail: MailSettings, claim: Claim, *, now: datetime
) -> bool:
    """The reminder of one claim not made, three days before it closes, with a link of its
    own; once (its outbox key, and the one ``UPDATE`` that stores the link's hash). Flushes."""
    if not claims.worth_reminding(claim):
        return False
    award = await claims.award_of(session, claim)
    if award is None:
        return False
    code = await claims.take_reminder(session, claim)
    if code is None:
        return False
    physician = await session.get_one(Physician, claim.physician_id)
    occurrence = await session.get_one(Occurrence, claim.occurrence_id)
    series = await session.get_one(Series, occurrence.series_id)
    link = claims.claim_url(mail.base_url, code, physician.language)
    compose = functools.partial(
        _claim_message,
        "claim_reminder",
        physician,
        mail,
        series,
        occurrence,
        award,
        link,
        claim.closes_at,
        now,
    )
    return await _queue(
        session,
        compose,
        key=claims.reminder_key(claim.id or 0),
        kind="claim-reminder",
        physician=physician,
        occurrence_id=occurrence.id,
        now=now,
    )


# Monthly statements ---------------------------------------------------------------------------


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """``2027-03`` → [1 March 00:00 UTC, 1 April 00:00 UTC)."""
    year, month = (int(part) for part in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    days = calendar.monthrange(year, month)[1]
    return start, start + timedelta(days=days)


async def physicians_with_activity(session: AsyncSession, period: str) -> list[int]:
    """Physicians with a final, unrevoked award at a session of the month, by the session's
    date where it is held (UTC offsets run from -12 to +14 hours: read a day more each side)."""
    start, end = period_bounds(period)
    query = (
        select(Award.physician_id, Occurrence.start, Series.timezone)
        .join(Occurrence, col(Occurrence.id) == col(Award.occurrence_id))
        .join(Series, col(Series.id) == col(Occurrence.series_id))
        .where(
            Occurrence.start >= start - timedelta(days=1),
            Occurrence.start < end + timedelta(days=1),
            col(Award.final).is_(True),
            Occurrence.status != OccurrenceStatus.CANCELLED,  # a cancelled session attests none
            not_(revocations.session_revoked(Award.occurrence_id, Award.physician_id)),
        )
    )
    first, after = start.date(), end.date()
    return sorted(
        {
            physician_id
            for physician_id, at, timezone in (await session.exec(query)).all()
            if first <= session_date(at, timezone) < after
        }
    )


async def enqueue_statement(
    session: AsyncSession, mail: MailSettings, physician_id: int, period: str, *, now: datetime
) -> bool:
    """The statement of one physician for one month: final credits, requirements, PDF.
    A revoked or cancelled session is left out: it attests no credit
    (:mod:`tracker.domain.revocations`, :func:`tracker.domain.awards.credit_for`)."""
    key = f"statement:{physician_id}:{period}"
    if await exists(session, key):
        return False
    physician = await session.get_one(Physician, physician_id)
    start, end = period_bounds(period)
    summary = await credit_summary(session, physician_id)
    # The month's sessions by their date (where they are held, as their certificates say);
    # progress as of the month's end: its final credits and those before, none of a later
    # month's (a statement sent late must not count them).
    first, after = start.date(), end.date()
    until_end = [a for a in summary.awards if a.final and a.session_date < after]
    progress = progress_from(summary.requirements, until_end)
    awards = [
        a for a in until_end if a.revoked_at is None and not a.cancelled and first <= a.session_date
    ]
    totals: dict[str, float] = {}
    for award in awards:
        for code, value in award.credits.items():
            totals[code] = round(totals.get(code, 0.0) + value, 2)
    lang = physician.language
    requirements = [
        {
            "label": mail.labels.label(r.type, lang),
            "earned": credit_amount(r.earned, lang),
            "required": credit_amount(r.required, lang),
            "start": day(r.from_, lang),
            "end": day(r.to, lang),
        }
        for r in progress
    ]
    year, month = (int(part) for part in period.split("-"))
    label = month_label(year, month, lang)

    def compose() -> EmailMessage:
        pdf = statement_pdf(statement_data(physician, mail, label, totals, progress, awards))
        return message_for(
            physician,
            mail,
            "statement",
            {
                "period_label": label,
                "period_totals": _credit_lines(totals, mail.labels, lang),
                "requirements": requirements,
            },
            now=now,
            attachments=(Attachment(f"statement-{period}.pdf", pdf, "application", "pdf"),),
        )

    return await _queue(
        session,
        compose,
        key=key,
        kind="statement",
        physician=physician,
        occurrence_id=None,
        now=now,
    )


# Welcome ----------------------------------------------------------------------------------------


def welcome_key(physician_id: int, generation: int) -> str:
    return f"welcome:{physician_id}:{generation}"


def personal_links(base_url: str, token: str, feed_key: str, *, name: str) -> dict[str, str]:
    """The personal page (``token``), the personal feed (the read-only ``feed_key``: the feed
    URL goes to calendar services, which must not hold a key that signs in), and the feed's
    subscribe links: ``webcal:`` (Apple Calendar, and any client that registers the scheme),
    Google Calendar's and Outlook.com's "add by URL" pages (``name``: the calendar's name in
    Outlook)."""
    feed = f"{base_url}/feeds/{feed_key}.ics"
    webcal = "webcal://" + feed.split("://", 1)[1]
    return {
        "page_url": f"{base_url}/me/{token}",
        "feed_url": feed,
        "webcal_url": webcal,
        "google_url": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
        "outlook_url": "https://outlook.live.com/calendar/0/addfromweb?"
        + urlencode({"url": feed, "name": name}),
    }


_WELCOME_VALUES = (
    "first_name",
    "last_name",
    "page_url",
    "feed_url",
    "webcal_url",
    "google_url",
    "outlook_url",
)


def _welcome_row(
    newcomer: Newcomer, mail: MailSettings, sender: Mailbox, template: Stencil, now: datetime
) -> dict[str, object]:
    """The outbox row of one welcome, as :func:`notifications.outbox.enqueue` would store it."""
    key = welcome_key(newcomer.physician_id, newcomer.generation)
    values = {
        "first_name": newcomer.first_name,
        "last_name": newcomer.last_name,
        **personal_links(mail.base_url, newcomer.token, newcomer.feed_key, name=mail.provider),
    }
    rendered = template.fill(values)
    message_id, raw = alternative_bytes(
        rendered,
        sender=sender,
        recipient=newcomer.email,
        recipient_name=f"{newcomer.first_name} {newcomer.last_name}",
        domain=mail.domain,
        now=now,
    )
    return {
        "key": key,
        "kind": "welcome",
        "recipient": envelope_address(newcomer.email),
        "subject": rendered.subject[:500],
        "message_id": message_id,
        "raw": raw,
        "physician_id": newcomer.physician_id,
        "occurrence_id": None,
        "status": OutboxStatus.PENDING,
        "last_error": None,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def enqueue_welcomes(
    session: AsyncSession, mail: MailSettings, newcomers: Sequence[Newcomer], *, now: datetime
) -> int:
    """A welcome for each newcomer (personal page, calendar feed, how to subscribe), in their
    language, queued with one ``INSERT … ON CONFLICT (key) DO NOTHING``; returns how many were
    new. Flushes; the caller commits.

    An import queues a thousand at a time, so each language's templates are rendered once and
    filled per physician, and the message bytes are written directly
    (:func:`notifications.compose.alternative_bytes`)."""
    if not newcomers:
        return 0
    stencils: dict[str, Stencil] = {}
    sender = parse_mailbox(mail.sender)
    rows = []
    for newcomer in newcomers:
        template = stencils.get(newcomer.language)
        if template is None:
            template = stencils[newcomer.language] = stencil(
                "welcome",
                newcomer.language,
                {"provider": mail.provider, "home_url": f"{mail.base_url}/"},
                _WELCOME_VALUES,
            )
        rows.append(_welcome_row(newcomer, mail, sender, template, now))
    # one executemany (sent as multi-row VALUES): compiled once, unlike ``.values(rows)``
    inserted = await session.exec(
        _insert_ignoring(session, OutboxMessage, ["key"]).returning(col(OutboxMessage.key)),
        params=rows,
    )
    return len(inserted.all())


# Sign-in links ------------------------------------------------------------------------------------


def _sign_in(
    physician: Physician, mail: MailSettings, link: str, minutes: int, now: datetime
) -> EmailMessage:
    return message_for(physician, mail, "sign_in", {"link": link, "minutes": minutes}, now=now)


def sign_in_message(
    physician: Physician, mail: MailSettings, code: str, minutes: int, *, now: datetime
) -> EmailMessage:
    """The email carrying a one-time sign-in link (also composed, and dropped, for an unknown
    address, so that answering takes as long whether the address is known or not)."""
    link = f"{mail.base_url}/me/sign-in/{code}?lang={physician.language}"
    return _sign_in(physician, mail, link, minutes, now)


async def enqueue_sign_in(
    session: AsyncSession,
    mail: MailSettings,
    physician: Physician,
    link_id: int,
    code: str,
    minutes: int,
    *,
    now: datetime,
) -> bool:
    """The sign-in link email for one link. Flushes; the caller commits."""
    return await _queue(
        session,
        functools.partial(sign_in_message, physician, mail, code, minutes, now=now),
        key=f"sign-in:{link_id}",
        kind="sign-in",
        physician=physician,
        occurrence_id=None,
        now=now,
    )
