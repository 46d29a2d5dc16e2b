"""Claims (SPEC 7): for a series with ``claim_required``, a session's certificate waits until the
physician attests the minutes they attended and answers the series' evaluation.

When the credits become final, each attendee with credit gets a claim (one per session and
physician) and an email with its one-time link, instead of the certificate; the link's code
(``clm_`` + 256 random bits) is kept only as its SHA-256. The claim page shows the computed
minutes, which the physician may lower, never raise; the credit claimed is the session's credit
rules (:mod:`tracker.domain.credit_rules`) applied to the claimed minutes (so the minimum attendance, the rounding and the cap all
apply as to attendance), and it can only be less than or equal to the computed credit. The
certificate is issued on submit, with that credit.

A claim closes ``claim_window_days`` after it is **offered** (:func:`closes_at`): when the
physician's award first becomes final with credit, which is when the claim row is created and
its email queued. For attendance known in time that is the session's finalisation (its end plus
the grace period); for attendance reported late (a Zoom report a week later) it is when that
report makes the credit final, so the email never announces a claim that has already closed and
every physician gets the whole window. The claim page, the reminder, the physician's page and
the API all read the stored ``closes_at``. Three days before it, those who have not claimed get
a reminder with a link of its own (a second hash on the row, so that the first email's link
keeps working).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notifications.outbox import exists
from schedules.models import Occurrence, Series
from schedules.wording import number
from tracker.domain import awards, evaluations, limits
from tracker.domain.credit_rules import session_rules
from tracker.domain.localtime import when, when_named, zone_name
from tracker.domain.models import Award, Claim, EvaluationAnswer, EvaluationQuestion, Physician
from tracker.domain.numerals import folded, plain_decimal
from tracker.domain.tokens import hash_token, new_token

CODE_PREFIX = "clm_"
#: How long before a claim closes the reminder goes to those who have not claimed.
REMIND_BEFORE = timedelta(days=3)
#: Claims one reminder run looks at per transaction.
REMINDER_BATCH = 200


def closes_at(occurrence: Occurrence, series: Series, offered_at: datetime) -> datetime:
    """When a claim offered at ``offered_at`` closes: ``claim_window_days`` after it was offered
    (never counted from before the session's end), so that a claim offered late, after a late
    attendance report, still gets the whole window."""
    return max(occurrence.end, offered_at) + timedelta(days=series.claim_window_days)


def claim_key(occurrence_id: int, physician_id: int) -> str:
    return f"claim:{occurrence_id}:{physician_id}"


def reminder_key(claim_id: int) -> str:
    return f"claim-reminder:{claim_id}"


def claim_url(base_url: str, code: str, language: str) -> str:
    return f"{base_url}/claims/{code}?lang={language}"


def full_minutes(seconds: int) -> Decimal:
    """The computed minutes as the page shows them: two decimals, rounded down, so that the
    pre-filled value is never more than the attendance."""
    return Decimal(seconds * 100 // 60) / 100


def claimed_seconds(claimed: Decimal | float, computed_seconds: int) -> int:
    """Seconds of a claim: the whole computed attendance when the claim is the pre-filled value
    (two decimals lose a fraction of a second), else the claimed minutes, at most the computed."""
    claimed = Decimal(str(claimed))
    if claimed >= full_minutes(computed_seconds):
        return computed_seconds
    return min(computed_seconds, int((claimed * 60).to_integral_value()))


async def credit_of(
    session: AsyncSession, series: Series, occurrence: Occurrence, seconds: int
) -> dict[str, float]:
    """The session's credit for ``seconds`` attended (its minimum, rounding and cap, under the
    rules it was credited under, read here: :func:`~tracker.domain.credit_rules.session_rules`;
    none at a cancelled session): :func:`tracker.domain.awards.credit_for`."""
    return awards.credit_for(await session_rules(session, occurrence, series), occurrence, seconds)


async def claims_among(
    session: AsyncSession, pairs: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], Claim]:
    """The claims of these (occurrence, physician) pairs, in one query."""
    if not pairs:
        return {}
    occurrence_ids = sorted({o for o, _ in pairs})
    physician_ids = sorted({p for _, p in pairs})
    rows = await session.exec(
        select(Claim).where(
            col(Claim.occurrence_id).in_(occurrence_ids),
            col(Claim.physician_id).in_(physician_ids),
        )
    )
    wanted = set(pairs)
    return {
        (c.occurrence_id, c.physician_id): c
        for c in rows.all()
        if (c.occurrence_id, c.physician_id) in wanted
    }


# At finalisation ----------------------------------------------------------------------------


async def claims_of(
    session: AsyncSession, occurrence_id: int, physician_ids: Sequence[int]
) -> dict[int, Claim]:
    """The claims of these physicians at this session, read afresh (a claim may have been
    accepted by an ``UPDATE`` in this very transaction)."""
    if not physician_ids:
        return {}
    rows = await session.exec(
        select(Claim)
        .where(Claim.occurrence_id == occurrence_id, col(Claim.physician_id).in_(physician_ids))
        .execution_options(populate_existing=True)
    )
    return {claim.physician_id: claim for claim in rows.all()}


@dataclass(frozen=True)
class Invitation:
    """A claim to create and the email carrying its link (composed by ``mailings``)."""

    physician: Physician
    award: Award
    code: str


def new_claim_rows(
    invitations: Sequence[Invitation], occurrence: Occurrence, series: Series, now: datetime
) -> list[dict[str, object]]:
    return [
        {
            "occurrence_id": occurrence.id,
            "physician_id": invitation.physician.id,
            "code_hash": hash_token(invitation.code),
            "reminder_code_hash": None,
            "created_at": now,
            "closes_at": closes_at(occurrence, series, now),
            "claimed_at": None,
            "claimed_minutes": None,
            "claimed_credits": None,
        }
        for invitation in invitations
    ]


def new_code() -> str:
    return new_token(CODE_PREFIX)


async def move_closing(session: AsyncSession, series: Series) -> int:
    """After the series' claim window changed: every claim not made yet closes
    ``claim_window_days`` after it was offered (:func:`closes_at`; a claim already closed may
    reopen, as the organiser asked). Returns how many claims changed. Flushes."""
    offers = (
        await session.exec(
            select(Occurrence.id, Occurrence.end, Claim.created_at)
            .join(Claim, col(Claim.occurrence_id) == col(Occurrence.id))
            .where(Occurrence.series_id == series.id, col(Claim.claimed_at).is_(None))
            .distinct()
        )
    ).all()
    changed = 0
    for occurrence_id, end, offered_at in offers:  # a session's claims mostly share one offer
        result = await session.exec(
            update(Claim)
            .where(
                col(Claim.occurrence_id) == occurrence_id,
                col(Claim.claimed_at).is_(None),
                col(Claim.created_at) == offered_at,
            )
            .values(closes_at=max(end, offered_at) + timedelta(days=series.claim_window_days))
        )
        changed += result.rowcount
    return changed


# The claim page ------------------------------------------------------------------------------

Status = Literal["open", "claimed", "closed"]


@dataclass(frozen=True)
class ClaimView:
    """What the claim page shows."""

    claim: Claim
    physician: Physician
    occurrence: Occurrence
    series: Series
    award: Award
    questions: list[EvaluationQuestion]
    status: Status
    #: The pre-filled minutes (the most that may be claimed).
    minutes: Decimal


async def _find(session: AsyncSession, code: str) -> Claim | None:
    if not code.startswith(CODE_PREFIX) or len(code) > 100:
        return None
    digest = hash_token(code)
    query = (
        select(Claim)
        .where(or_(col(Claim.code_hash) == digest, col(Claim.reminder_code_hash) == digest))
        .execution_options(populate_existing=True)
    )
    return (await session.exec(query)).first()


async def award_of(session: AsyncSession, claim: Claim) -> Award | None:
    """The award a claim is about (``None``: its attendance was removed since)."""
    query = select(Award).where(
        Award.occurrence_id == claim.occurrence_id, Award.physician_id == claim.physician_id
    )
    return (await session.exec(query)).first()


async def view(session: AsyncSession, code: str, *, now: datetime) -> ClaimView | None:
    """The claim ``code`` names, with what its page needs; ``None``: no such link."""
    claim = await _find(session, code)
    if claim is None:
        return None
    award = await award_of(session, claim)
    if award is None:  # the attendance was removed since: nothing left to claim
        return None
    occurrence = await session.get_one(Occurrence, claim.occurrence_id)
    series = await session.get_one(Series, occurrence.series_id)
    physician = await session.get_one(Physician, claim.physician_id)
    status: Status = (
        "claimed"
        if claim.claimed_at is not None
        else "closed"
        if claim.closes_at <= now
        else "open"
    )
    return ClaimView(
        claim=claim,
        physician=physician,
        occurrence=occurrence,
        series=series,
        award=award,
        questions=await evaluations.questions(session, series.id or 0),
        status=status,
        minutes=full_minutes(award.seconds),
    )


@dataclass(frozen=True)
class ClaimForm:
    """The claim page's form as posted: the minutes as typed, the attestation box, and the
    answers by question id (as typed)."""

    minutes: str
    attested: bool
    answers: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedClaim:
    minutes: Decimal
    answers: list[tuple[EvaluationQuestion, int | None, bool | None, str | None]]


def parse_minutes(text: str) -> Decimal | str:
    """``47``, ``47.5``, ``47,5`` (French), 47 in fullwidth digits, with spaces as thousands
    separators; else the key of the message that says what is wrong: not a plain decimal
    number (``1e1``, ``1_0``, Arabic-Indic digits), not above 0, more than two decimals, or
    beyond any claim."""
    cleaned = "".join(folded(text).split())  # NFKC makes no-break spaces plain ones
    plain = plain_decimal(cleaned) if cleaned else None
    if plain is None:
        negative = cleaned.startswith("-") and plain_decimal(cleaned[1:]) is not None
        return "claim.bad.zero" if negative else "claim.bad.minutes"
    value = Decimal(plain)
    if value <= 0:
        return "claim.bad.zero"
    if value > limits.CLAIM_MINUTES_MAX:
        return "claim.bad.more"
    if value != value.quantize(Decimal("0.01")):
        return "claim.bad.precision"
    return value


def check(view: ClaimView, form: ClaimForm) -> tuple[ParsedClaim | None, dict[str, str]]:
    """The form checked against the claim: the parsed claim, or the errors (field name: the
    message's key; ``minutes``, ``attest``, ``q{id}``)."""
    errors: dict[str, str] = {}
    minutes = parse_minutes(form.minutes)
    if isinstance(minutes, str):
        errors["minutes"] = minutes
    elif minutes > view.minutes:
        errors["minutes"] = "claim.bad.more"
    if not form.attested:
        errors["attest"] = "claim.bad.attest"
    answers: list[tuple[EvaluationQuestion, int | None, bool | None, str | None]] = []
    for question in view.questions:
        name = f"q{question.id}"
        given = form.answers.get(question.id or 0, "").strip()
        if question.kind == "text":
            text = evaluations.clean_text(given)
            if len(text) > limits.ANSWER_TEXT:
                errors[name] = "claim.bad.long"
            elif text:
                answers.append((question, None, None, text))
        elif not given:
            errors[name] = "claim.bad.required"
        elif question.kind == "scale":
            if given not in {"1", "2", "3", "4", "5"}:
                errors[name] = "claim.bad.choice"
            else:
                answers.append((question, int(given), None, None))
        elif given not in {"yes", "no"}:
            errors[name] = "claim.bad.choice"
        else:
            answers.append((question, None, given == "yes", None))
    if errors or isinstance(minutes, str):
        return None, errors
    return ParsedClaim(minutes, answers), {}


async def accept(
    session: AsyncSession, view: ClaimView, parsed: ParsedClaim, *, now: datetime
) -> dict[str, float] | None:
    """Record the claim and its answers, once: ``None`` when another submit (or the window's
    end) came first. Returns the credit claimed. Flushes; the caller issues the certificate and
    commits."""
    seconds = claimed_seconds(parsed.minutes, view.award.seconds)
    credits = await credit_of(session, view.series, view.occurrence, seconds)
    minutes = round(seconds / 60, 2)
    result = await session.exec(
        update(Claim)
        .where(
            col(Claim.id) == view.claim.id,
            col(Claim.claimed_at).is_(None),
            col(Claim.closes_at) > now,
        )
        .values(claimed_at=now, claimed_minutes=minutes, claimed_credits=credits)
    )
    if result.rowcount != 1:
        return None
    session.add_all(
        EvaluationAnswer(
            claim_id=view.claim.id or 0,
            occurrence_id=view.occurrence.id or 0,
            question_id=question.id or 0,
            scale=scale,
            yes=yes,
            text=text,
        )
        for question, scale, yes, text in parsed.answers
    )
    await session.flush()
    return credits


def gives_credit(credits: dict[str, float]) -> bool:
    return any(value > 0 for value in credits.values())


async def would_give_credit(session: AsyncSession, view: ClaimView, minutes: Decimal) -> bool:
    seconds = claimed_seconds(minutes, view.award.seconds)
    return gives_credit(await credit_of(session, view.series, view.occurrence, seconds))


# Reminders ---------------------------------------------------------------------------------


async def reminders_due(
    session: AsyncSession, *, now: datetime, after: int = 0, limit: int = REMINDER_BATCH
) -> list[Claim]:
    """Claims not made, whose window closes within :data:`REMIND_BEFORE`, not yet reminded,
    after ``after`` by id. A claim whose whole window was shorter than that is included too
    (the caller skips it), so that the keyset goes on past it."""
    query = (
        select(Claim)
        .where(
            col(Claim.claimed_at).is_(None),
            col(Claim.reminder_code_hash).is_(None),
            col(Claim.closes_at) > now,
            col(Claim.closes_at) <= now + REMIND_BEFORE,
            col(Claim.id) > after,
        )
        .order_by(col(Claim.id))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


def worth_reminding(claim: Claim) -> bool:
    """A window of three days or less gets no reminder (it would come with the first email)."""
    return claim.created_at < claim.closes_at - REMIND_BEFORE


async def take_reminder(session: AsyncSession, claim: Claim) -> str | None:
    """A code for the reminder's link, stored (hashed) by one ``UPDATE`` that only one process
    wins; ``None`` when another process is reminding this claim. Flushes."""
    if await exists(session, reminder_key(claim.id or 0)):
        return None
    code = new_code()
    result = await session.exec(
        update(Claim)
        .where(col(Claim.id) == claim.id, col(Claim.reminder_code_hash).is_(None))
        .values(reminder_code_hash=hash_token(code))
    )
    if result.rowcount != 1:
        return None
    return code


def claim_context(
    physician: Physician,
    series: Series,
    occurrence: Occurrence,
    award_seconds: int,
    credit_lines: list[tuple[str, str]],
    *,
    link: str,
    closes: datetime,
) -> dict[str, object]:
    """What the claim and reminder emails say."""
    lang = physician.language
    return {
        "series_title": series.title,
        "start_text": when(occurrence.start, physician.timezone, lang),
        "timezone": zone_name(physician.timezone, lang),
        "minutes": number(float(full_minutes(award_seconds)), lang),
        "credits": credit_lines,
        "link": link,
        "closes_text": when_named(closes, physician.timezone, lang),
        "closes_short": when(closes, physician.timezone, lang),  # a subject's parentheses
    }
