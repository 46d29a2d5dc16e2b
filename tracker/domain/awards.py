"""The credit projection: awards recomputed from stored facts, finalised after the grace period.

Every function here recomputes from the append-only events, so running one twice, late, or in
two processes gives the same rows.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import Table, Text, bindparam, insert, inspect, union_all, update
from sqlalchemy import cast as sql_cast
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import utcnow
from schedules.errors import NotFoundError
from schedules.models import Occurrence, OccurrenceStatus, Series
from tracker.domain import revocations
from tracker.domain.credit_rules import CreditRules, rules_by_session, session_rules
from tracker.domain.credits import (
    Attendance,
    Fact,
    Kind,
    attendance,
)
from tracker.domain.localtime import session_date
from tracker.domain.models import (
    AttendanceEvent,
    Award,
    Claim,
    OccurrenceClosure,
    Physician,
    Requirement,
)
from tracker.domain.receipts import FinalBatch, RawFact, complete, explain, iso, terms
from tracker.domain.schemas import AwardPublic, CreditSummary, RequirementProgress

log = logging.getLogger(__name__)


async def is_closed(session: AsyncSession, occurrence_id: int) -> bool:
    return await session.get(OccurrenceClosure, occurrence_id) is not None


#: Above this many physicians, a read selects the range of their ids and keeps theirs in
#: Python: one range predicate instead of a thousand bound parameters (finalisation batches
#: are consecutive attendee ids, so the range holds nobody else).
_RANGE_FROM = 64


def _among(column: Any, physician_ids: Collection[int]) -> Any:
    """``column IN physician_ids``, or the range covering them for a large batch (the caller
    keeps only theirs)."""
    if len(physician_ids) > _RANGE_FROM:
        return col(column).between(min(physician_ids), max(physician_ids))
    return col(column).in_(list(physician_ids))


async def _facts(
    session: AsyncSession, occurrence_id: int, physician_ids: Collection[int] | None = None
) -> dict[int, list[Fact]]:
    """Each physician's facts at one occurrence (the platform's end events added to each's), in
    one read: every physician's, or only those of ``physician_ids``."""
    own, ended = await _event_rows(session, occurrence_id, physician_ids)
    return {
        pid: [
            Fact(cast(Kind, kind), at, connection, source) for kind, at, connection, source in rows
        ]
        + ended
        for pid, rows in own.items()
    }


async def _event_rows(
    session: AsyncSession, occurrence_id: int, physician_ids: Collection[int] | None = None
) -> tuple[dict[int, list[RawFact]], list[Fact]]:
    """Each physician's own facts at one occurrence as plain tuples, and the platform's end
    events (which count for everyone), in one read: every physician's, or only those of
    ``physician_ids``. End events are never matched to a physician
    (:func:`tracker.domain.attendance.match_all`), so a batch reads its physicians' range and
    the unmatched rows of the occurrence: both served by the (occurrence, physician) index,
    where ``OR kind = 'ended'`` would read every event of the session for every batch."""
    query: Any = sa_select(
        col(AttendanceEvent.physician_id),
        col(AttendanceEvent.kind),
        col(AttendanceEvent.at),
        col(AttendanceEvent.connection_id),
        col(AttendanceEvent.source),
    ).where(col(AttendanceEvent.occurrence_id) == occurrence_id)
    wanted = None if physician_ids is None else frozenset(physician_ids)
    if physician_ids is not None:  # two index ranges (an OR would read the whole occurrence)
        query = union_all(
            query.where(_among(AttendanceEvent.physician_id, physician_ids)),
            query.where(col(AttendanceEvent.physician_id).is_(None)),
        )
    ended: list[Fact] = []
    by_physician: dict[int, list[RawFact]] = defaultdict(list)
    for pid, kind, at, connection, source in await (await session.connection()).execute(query):
        if kind == "ended":
            ended.append(Fact("ended", at, source=source))
        elif pid is not None and (wanted is None or pid in wanted):
            by_physician[pid].append((kind, at, connection, source))
    return by_physician, ended


def _credits_of(
    attended: Attendance, occurrence: Occurrence, rules: CreditRules
) -> dict[str, float]:
    """The credits these minutes earn at this occurrence under its rules (its snapshot once
    final, else its series' rules: :func:`~tracker.domain.credit_rules.session_rules`); none
    at a cancelled session, which attests no credit whatever attendance it holds (restored, it
    earns them again)."""
    credits = rules.credits(attended, _duration(occurrence))
    if occurrence.status == OccurrenceStatus.CANCELLED:
        return dict.fromkeys(credits, 0.0)
    return credits


def _terms(occurrence: Occurrence, rules: CreditRules) -> Any:
    return terms(
        duration_minutes=_duration(occurrence),
        min_attendance_percent=rules.min_attendance_percent,
        designations=rules.designations,
        roundings=rules.roundings,
    )


def credit_for(rules: CreditRules, occurrence: Occurrence, seconds: int) -> dict[str, float]:
    """The session's credit for ``seconds`` attended (its minimum, rounding and cap under the
    rules it is credited under; none if it was cancelled): the credit of claimed minutes."""
    return _credits_of(Attendance(seconds, ()), occurrence, rules)


def certified_seconds(claimed_minutes: float | None, award: Award) -> int:
    """The seconds a claim counts: the claimed minutes, never more than the attendance computed
    now (a late change may have lowered it)."""
    return min(award.seconds, math.floor((claimed_minutes or 0) * 60 + 0.5))


def claimed_figures(
    claim: Claim, award: Award, occurrence: Occurrence, rules: CreditRules
) -> tuple[int, dict[str, float]]:
    """What a claim made attests now: its minutes capped at the computed ones, and their credit
    under the session's rules (SPEC 7). Every reader counts this, never the credit stored when
    the claim was made, which a late fact (or a cancellation) may have cut since."""
    seconds = certified_seconds(claim.claimed_minutes, award)
    return seconds, credit_for(rules, occurrence, seconds)


def _figures(
    facts: list[Fact],
    occurrence: Occurrence,
    rules: CreditRules,
    *,
    now: datetime | None,
) -> tuple[Attendance, dict[str, float]]:
    """Minutes and credits from the facts; ``now`` for provisional figures (open connections
    count up to now), ``None`` for final ones (up to the end)."""
    attended = attendance(facts, start=occurrence.start, end=occurrence.end, now=now)
    return attended, _credits_of(attended, occurrence, rules)


def _duration(occurrence: Occurrence) -> int:
    return int((occurrence.end - occurrence.start).total_seconds() // 60)


class _Stored(NamedTuple):
    """An award as stored, its JSON values as their text: strings, which neither cost a
    decoding per row nor, held for the whole batch, a walk of the heap by the cyclic garbage
    collector (:class:`_Rows`); decoded only where the text differs from the new one's."""

    id: int
    physician_id: int
    seconds: int
    credits: str
    anomalies: str
    final: bool
    version: int
    has_receipt: bool

    def same(self, name: str, text: object, value: object) -> bool:
        """Whether the stored ``name`` (``credits`` or ``anomalies``) equals ``value``, whose
        text as encoded for the driver is ``text``."""
        stored: str = getattr(self, name)
        return stored == text or json.loads(stored) == value


async def recompute_awards(
    session: AsyncSession, occurrence_id: int, physician_ids: Collection[int], *, now: datetime
) -> int:
    """Recompute these physicians' awards at one occurrence from every stored fact; returns how
    many were written (new or changed).

    One read of their facts, one of their awards and two bulk writes, whatever their number, so
    that a session of any size is computed in one pass (in batches chosen by the caller); rows
    are plain values, not ORM objects, which would cost more than the arithmetic.
    A final award whose credits change gets a new ``version`` (its certificate is re-issued).
    Every final computation writes the award's receipt (:mod:`tracker.domain.receipts`).
    A provisional one is stored as of ``now``; readers bring it up to their own now
    (:func:`credit_summary`, ``listing.attendance_page``).
    """
    occurrence = await session.get(Occurrence, occurrence_id)
    if occurrence is None or not physician_ids:
        return 0
    series = await session.get_one(Series, occurrence.series_id)
    final = await is_closed(session, occurrence_id)
    rules = await session_rules(session, occurrence, series)
    wanted = frozenset(physician_ids)
    own, ended = await _event_rows(session, occurrence_id, wanted)
    query = sa_select(
        col(Award.id),
        col(Award.physician_id),
        col(Award.seconds),
        sql_cast(col(Award.credits), Text),
        sql_cast(col(Award.anomalies), Text),
        col(Award.final),
        col(Award.version),
        col(Award.receipt).is_not(None),
    ).where(
        col(Award.occurrence_id) == occurrence_id,
        _among(Award.physician_id, wanted),
    )
    stored = {
        row.physician_id: row
        for row in map(_Stored._make, await (await session.connection()).execute(query))
        if row.physician_id in wanted
    }
    dialect = (await session.connection()).dialect
    as_json = {name: _Encoded(name, dialect) for name in ("credits", "anomalies")}
    inserts, updates = _Rows(), _Rows()
    batch = FinalBatch(
        start=occurrence.start,
        end=occurrence.end,
        ended=ended,
        shared=_terms(occurrence, rules),
        credits_of=lambda attended: _credits_of(attended, occurrence, rules),
        computed_at=iso(now),
    )
    for physician_id in physician_ids:
        receipt: object = None
        if final:
            # the receipt comes as its JSON text, as the column stores it: a string, not a
            # tree of containers for the cyclic garbage collector to walk while the batch is
            # built (which cost more than the arithmetic) nor for the JSON column to encode
            attended, credits, receipt = batch.figures(own.get(physician_id, []))
        else:
            facts = [
                Fact(cast(Kind, kind), at, connection, source)
                for kind, at, connection, source in own.get(physician_id, [])
            ]
            attended, credits = _figures(facts + ended, occurrence, rules, now=now)
        anomalies = list(attended.anomalies)
        figures: dict[str, object] = {
            "seconds": attended.seconds,
            "credits": as_json["credits"](credits),
            "anomalies": as_json["anomalies"](anomalies),
            "computed_at": now,
        }
        if receipt is not None:
            figures["receipt"] = receipt
        row = stored.get(physician_id)
        if row is None:
            inserts.add(
                figures
                | {
                    "occurrence_id": occurrence_id,
                    "physician_id": physician_id,
                    "final": final,
                    "version": 1,
                    "finalized_at": now if final else None,
                }
            )
            continue
        same_credits = row.same("credits", figures["credits"], credits)
        if (
            row.final
            and final
            and same_credits
            and row.seconds == attended.seconds
            and row.has_receipt
        ):
            continue  # already final as computed: nothing to write
        if row.final and final and not (same_credits and row.seconds == attended.seconds):
            # the certificate prints the minutes too: either figure changing re-issues it
            figures["version"] = row.version + 1
            log.info(
                "final figures of physician %s at occurrence %s changed",
                physician_id,
                occurrence_id,
            )
        if final and not row.final:
            if (
                row.seconds == attended.seconds
                and same_credits
                and row.same("anomalies", figures["anomalies"], anomalies)
            ):  # final as it was: only the flag, the times and the receipt change
                updates.add(
                    {"id": row.id, "final": True, "finalized_at": now, "computed_at": now}
                    | ({"receipt": receipt} if receipt is not None else {})
                )
                continue
            figures |= {"final": True, "finalized_at": now}
        updates.add(figures | {"id": row.id})
    await _execute_many(session, _insert_statement, inserts)
    await _execute_many(session, _update_statement, updates)
    return len(inserts) + len(updates)


#: The award table as SQLAlchemy Core sees it.
_AWARD: Table = inspect(Award).local_table  # type: ignore[assignment]


def _insert_statement(keys: tuple[str, ...]) -> Any:
    return insert(_AWARD).inline().values({key: bindparam(key) for key in keys})


def _update_statement(keys: tuple[str, ...]) -> Any:
    return (
        update(_AWARD)
        .where(_AWARD.c.id == bindparam("award_id"))
        .values({key: bindparam(key) for key in keys if key != "id"})
    )


class _Rows:
    """Award rows for one executemany per shape of row (an INSERT, or an UPDATE by id): each
    row kept as a tuple of its values, the JSON ones encoded already (:class:`_Encoded`).
    A batch's rows live until its writes; as dictionaries and lists they outlived the young
    generations and made the cyclic garbage collector walk the whole heap now and then (a
    tenth of a second each time); tuples of strings, numbers and datetimes it stops tracking."""

    def __init__(self) -> None:
        self.shapes: dict[tuple[str, ...], list[tuple[object, ...]]] = defaultdict(list)

    def add(self, row: dict[str, object]) -> None:
        self.shapes[tuple(row)].append(tuple(row.values()))

    def __len__(self) -> int:
        return sum(map(len, self.shapes.values()))


class _Encoded:
    """A JSON column's value as the driver takes it (the column type's bind processing), once
    per distinct value (a batch's awards mostly share their credits and anomalies)."""

    def __init__(self, name: str, dialect: Any) -> None:
        self.process: Callable[[object], object] | None = _AWARD.c[name].type.bind_processor(
            dialect
        )
        self.done: dict[object, object] = {}

    def __call__(self, value: object) -> object:
        key = _hashable(value)
        found = self.done.get(key)
        if found is None:
            found = self.done[key] = value if self.process is None else self.process(value)
        return found


#: Columns whose values rows hold as the driver takes them: the JSON ones (the receipt is
#: JSON text as json.dumps, the JSON column's serializer on both engines, makes it).
_ENCODED = frozenset({"credits", "anomalies", "receipt"})


async def _execute_many(
    session: AsyncSession, statement: Callable[[tuple[str, ...]], Any], rows: _Rows
) -> None:
    """``statement`` (an INSERT or an UPDATE by id of the award table) for every row, as one
    executemany per shape of row, at the driver: each other column's value goes through its
    type's bind processing once per distinct value (a batch's rows share their timestamps),
    where SQLAlchemy's executemany would process, and encode as JSON, every value of every
    row."""
    if not rows.shapes:
        return
    connection = await session.connection()
    dialect = connection.dialect
    for keys, group in rows.shapes.items():
        compiled = statement(tuple(sorted(keys))).compile(dialect=dialect)
        columns = []
        for parameter in compiled.positiontup or ():
            name = "id" if parameter == "award_id" else parameter
            position = keys.index(name)
            values = [row[position] for row in group]
            process = _AWARD.c[name].type.bind_processor(dialect)
            columns.append(
                values if process is None or name in _ENCODED else _bound(values, process)
            )
        await connection.exec_driver_sql(compiled.string, list(zip(*columns, strict=True)))


def _bound(values: list[object], process: Callable[[Any], object]) -> list[object]:
    """``process`` of every value, once per distinct value: first by identity (the rows of a
    batch share their timestamps and credits objects; ``values`` holds them all, so an id
    stands for one object throughout), else by equal value."""
    by_identity: dict[int, object] = {}
    by_value: dict[object, object] = {}
    bound = []
    for value in values:
        ident = id(value)
        if ident not in by_identity:
            key = _hashable(value)
            if key not in by_value:
                by_value[key] = process(value)
            by_identity[ident] = by_value[key]
        bound.append(by_identity[ident])
    return bound


def _hashable(value: object) -> object:
    """A key for a value's processed form (type-tagged: ``1`` and ``True`` differ)."""
    if isinstance(value, dict):
        return (dict, tuple((key, type(item), item) for key, item in value.items()))
    if isinstance(value, list):
        return (list, tuple(value))
    return (type(value), value)


def _copy(award: Award, **changes: Any) -> Award:
    """A detached copy of an award (never stored, nor in any session) with ``changes``."""
    fields: dict[str, Any] = {
        "id": award.id,
        "occurrence_id": award.occurrence_id,
        "physician_id": award.physician_id,
        "seconds": award.seconds,
        "credits": award.credits,
        "anomalies": list(award.anomalies),
        "final": award.final,
        "version": award.version,
        "computed_at": award.computed_at,
        "finalized_at": award.finalized_at,
    }
    return Award(**(fields | changes))


def with_credits(award: Award, credits: dict[str, float]) -> Award:
    """A detached copy of an award with other credits (a claim's)."""
    return _copy(award, credits=credits)


def _as_of(award: Award, attended: Attendance, credits: dict[str, float], now: datetime) -> Award:
    """A detached copy of a provisional award with the figures as of ``now``."""
    return _copy(
        award,
        seconds=attended.seconds,
        credits=credits,
        anomalies=list(attended.anomalies),
        final=False,
        computed_at=now,
        finalized_at=None,
    )


async def _provisional_as_of(
    session: AsyncSession, award: Award, occurrence: Occurrence, series: Series, now: datetime
) -> Award:
    """A final award as stored; a provisional one recomputed with open connections up to now."""
    if award.final:
        return award
    facts = (await _facts(session, occurrence.id or 0, [award.physician_id])).get(
        award.physician_id, []
    )
    rules = await session_rules(session, occurrence, series)
    return _as_of(award, *_figures(facts, occurrence, rules, now=now), now)


async def award_receipt(
    session: AsyncSession, occurrence_id: int, physician_id: int, *, now: datetime
) -> tuple[Award, Occurrence, Series, dict[str, Any]] | None:
    """One award with its receipt: the stored one of a final award; for a provisional award
    (or a final one made before receipts were kept) one computed now from the stored facts
    and never stored. None when the physician has no award at this occurrence."""
    award = (
        await session.exec(
            select(Award).where(
                Award.occurrence_id == occurrence_id, Award.physician_id == physician_id
            )
        )
    ).first()
    if award is None:
        return None
    occurrence = await session.get_one(Occurrence, occurrence_id)
    series = await session.get_one(Series, occurrence.series_id)
    if award.final and award.receipt is not None:
        return award, occurrence, series, award.receipt
    facts = (await _facts(session, occurrence_id, [physician_id])).get(physician_id, [])
    rules = await session_rules(session, occurrence, series)
    attended, part = explain(
        facts, start=occurrence.start, end=occurrence.end, now=None if award.final else now
    )
    credits = _credits_of(attended, occurrence, rules)
    receipt = complete(part, _terms(occurrence, rules), credits=credits, computed_at=now)
    return award, occurrence, series, receipt


async def attendee_ids(session: AsyncSession, occurrence_id: int) -> list[int]:
    """Everyone with a matched fact at this occurrence, in id order."""
    query = (
        sa_select(col(AttendanceEvent.physician_id))
        .where(
            col(AttendanceEvent.occurrence_id) == occurrence_id,
            col(AttendanceEvent.physician_id).is_not(None),
        )
        .distinct()
    )
    rows = await (await session.connection()).scalars(query)
    return sorted(pid for pid in rows if pid is not None)


#: How many awards one transaction computes and writes: short enough that other writers (the
#: outbox worker, webhooks) never wait long for SQLite's single write lock.
BATCH = 1000


def batches(ids: Sequence[int], size: int = BATCH) -> Iterator[Sequence[int]]:
    for index in range(0, len(ids), size):
        yield ids[index : index + size]


async def recompute_occurrence(session: AsyncSession, occurrence_id: int, *, now: datetime) -> int:
    """Recompute the awards of everyone with a fact at this occurrence; returns how many."""
    physician_ids = await attendee_ids(session, occurrence_id)
    for batch in batches(physician_ids):
        await recompute_awards(session, occurrence_id, batch, now=now)
    return len(physician_ids)


async def physician_awards(
    session: AsyncSession, physician_id: int
) -> list[tuple[Award, Occurrence, Series]]:
    query = (
        select(Award, Occurrence, Series)
        .join(Occurrence, col(Occurrence.id) == col(Award.occurrence_id))
        .join(Series, col(Series.id) == col(Occurrence.series_id))
        .where(Award.physician_id == physician_id)
        .order_by(col(Occurrence.start))
    )
    return [(a, o, s) for a, o, s in (await session.exec(query)).all()]


def _add(totals: dict[str, float], credits: dict[str, float]) -> None:
    for code, amount in credits.items():
        totals[code] = round(totals.get(code, 0.0) + amount, 2)


ClaimState = Literal["open", "claimed", "closed"]


async def _claims_of(
    session: AsyncSession,
    physician_id: int,
    rows: Sequence[tuple[Award, Occurrence, Series]],
    now: datetime,
) -> dict[int, tuple[ClaimState, dict[str, float]]]:
    """For the final awards of series that require claims (SPEC 7), by occurrence: the claim's
    state and the credit that counts (the one claimed, capped at the computed minutes:
    :func:`claimed_figures`; none before a claim, or after the window closed without one)."""
    wanted = [o.id for a, o, s in rows if a.final and s.claim_required and o.id is not None]
    if not wanted:
        return {}
    found = await session.exec(
        select(Claim).where(
            Claim.physician_id == physician_id, col(Claim.occurrence_id).in_(wanted)
        )
    )
    result: dict[int, tuple[ClaimState, dict[str, float]]] = {}
    sessions = {o.id: (a, o) for a, o, _ in rows}
    claimed = list(found.all())
    rules = await rules_by_session(
        session, [c.occurrence_id for c in claimed if c.claimed_at is not None]
    )
    for claim in claimed:
        if claim.claimed_at is not None:
            award, occurrence = sessions[claim.occurrence_id]
            credits = claimed_figures(claim, award, occurrence, rules[claim.occurrence_id])[1]
            result[claim.occurrence_id] = ("claimed", credits)
        else:
            result[claim.occurrence_id] = ("open" if now < claim.closes_at else "closed", {})
    return result


async def credit_summary(
    session: AsyncSession, physician_id: int, *, now: datetime | None = None
) -> CreditSummary:
    """The summary of SPEC 3: totals (all and final), awards, requirements with progress.
    A revoked session counts nowhere (:mod:`tracker.domain.revocations`): its award is listed,
    marked revoked, with no credit.

    With ``now``, provisional awards count open connections up to ``now`` (a live session
    shows the minutes so far); without, they are as stored.
    """
    physician = await session.get(Physician, physician_id)
    if physician is None:
        raise NotFoundError("physician", physician_id)
    rows = await physician_awards(session, physician_id)
    if now is not None:
        rows = [
            (await _provisional_as_of(session, award, occurrence, series, now), occurrence, series)
            for award, occurrence, series in rows
        ]
    claims = await _claims_of(session, physician_id, rows, now or utcnow())
    revoked = await revocations.revoked_sessions(session, physician_id)

    def counted(award: Award, occurrence_id: int) -> dict[str, float]:
        """The credit of an award that counts: none once revoked, the claimed one where
        claims are required, else the award's."""
        if occurrence_id in revoked:
            return {}
        return claims.get(occurrence_id, (None, award.credits))[1]

    totals: dict[str, float] = {}
    final_totals: dict[str, float] = {}
    awards: list[AwardPublic] = []
    for award, occurrence, series in rows:
        claim = claims.get(occurrence.id or 0, (None, {}))[0]
        credits = counted(award, occurrence.id or 0)
        _add(totals, credits)
        if award.final:
            _add(final_totals, credits)
        awards.append(
            AwardPublic(
                occurrence_id=occurrence.id or 0,
                series_id=series.id or 0,
                series_title=series.title,
                start=occurrence.start,
                end=occurrence.end,
                session_date=session_date(occurrence.start, series.timezone),
                minutes=round(award.seconds / 60, 2),
                final=award.final,
                credits=credits,
                claim=claim,
                revoked_at=revoked.get(occurrence.id or 0),
                cancelled=occurrence.status == OccurrenceStatus.CANCELLED,
            )
        )
    requirements = (
        await session.exec(
            select(Requirement)
            .where(Requirement.physician_id == physician_id)
            .order_by(col(Requirement.id))
        )
    ).all()
    progress = [
        RequirementProgress(
            id=requirement.id or 0,
            type=requirement.credit_type,
            required=requirement.required,
            earned=0.0,
            from_=requirement.start_date,
            to=requirement.end_date,
        )
        for requirement in requirements
    ]
    return CreditSummary(
        physician_id=physician_id,
        totals=totals,
        final_totals=final_totals,
        awards=awards,
        requirements=progress_from(progress, awards),
    )


def progress_from(
    requirements: Sequence[RequirementProgress], awards: Sequence[AwardPublic]
) -> list[RequirementProgress]:
    """The requirements' progress counted from these awards alone (each award's counted
    credit, on its session's date, as its certificate gives it): all of them for the
    physician's page, a month's final ones and those before for its statement."""
    return [
        requirement.model_copy(
            update={
                "earned": round(
                    sum(
                        award.credits.get(requirement.type, 0.0)
                        for award in awards
                        if requirement.from_ <= award.session_date <= requirement.to
                    ),
                    2,
                )
            }
        )
        for requirement in requirements
    ]
