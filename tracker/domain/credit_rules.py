"""A session's credit rules: the designations (type, maximum, rounding) and the minimum
attendance its awards are computed under, read through one function, :func:`session_rules`.

The rules a session was credited under are the ones its final awards keep. Once a session's
credits are final (its closure made, :mod:`tracker.services.finalisation`) its rules are a
snapshot stored on the closure (``occurrence_closure.credit_rules``), and every later
computation of its awards (a late event, a reconciliation, a claim, a receipt, an export) uses
that snapshot; editing the series' credits, its minimum attendance or a credit type's rounding
then changes only the sessions whose credits are not final yet. Before, a session follows its
series as it is now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.models import Occurrence, Series
from tracker.domain.credits import ROUNDINGS, Attendance, Rounding, credits_for
from tracker.domain.models import CreditType, OccurrenceClosure


@dataclass(frozen=True)
class CreditRules:
    """What turns minutes into credits at one session (SPEC 2 "Credits", steps 4 and 5)."""

    #: ``{"type": code, "max": maximum}`` per designated credit type, as the series stores them.
    designations: tuple[Mapping[str, object], ...]
    min_attendance_percent: float | None
    #: Each designated type's rounding policy (``quarter`` when the type has none).
    roundings: Mapping[str, Rounding]

    def credits(self, attended: Attendance, duration_minutes: int) -> dict[str, float]:
        return credits_for(
            attended,
            duration_minutes=duration_minutes,
            min_attendance_percent=self.min_attendance_percent,
            designations=self.designations,
            roundings=self.roundings,
        )

    def snapshot(self) -> dict[str, Any]:
        """The rules as stored on the closure (JSON)."""
        return {
            "credits": [
                {
                    "type": str(d["type"]),
                    "max": d["max"],
                    "rounding": self.roundings.get(str(d["type"]), "quarter"),
                }
                for d in self.designations
            ],
            "min_attendance_percent": self.min_attendance_percent,
        }

    def same_as(self, other: CreditRules) -> bool:
        return self.snapshot() == other.snapshot()


def from_snapshot(stored: Mapping[str, Any]) -> CreditRules:
    credits: Sequence[Mapping[str, Any]] = stored.get("credits", [])
    return CreditRules(
        designations=tuple({"type": c["type"], "max": c["max"]} for c in credits),
        min_attendance_percent=stored.get("min_attendance_percent"),
        roundings={
            str(c["type"]): c["rounding"] for c in credits if c.get("rounding") in ROUNDINGS
        },
    )


async def roundings(session: AsyncSession) -> dict[str, Rounding]:
    """Each credit type's rounding policy as the credit types say now."""
    rows = (await session.exec(select(CreditType))).all()
    return {row.code: row.rounding for row in rows if row.rounding in ROUNDINGS}


async def series_rules(session: AsyncSession, series: Series) -> CreditRules:
    """The series' rules as they are now (what a session not final yet follows)."""
    return _series_rules(series, await roundings(session))


def _series_rules(series: Series, policies: Mapping[str, Rounding]) -> CreditRules:
    designations = tuple(dict(c) for c in series.credits)
    return CreditRules(
        designations=designations,
        min_attendance_percent=series.min_attendance_percent,
        roundings={str(d["type"]): policies.get(str(d["type"]), "quarter") for d in designations},
    )


async def session_rules(
    session: AsyncSession, occurrence: Occurrence, series: Series | None = None
) -> CreditRules:
    """The rules of this session: its snapshot once its credits are final, else its series'
    rules as they are now. Every computation of an award reads its rules here."""
    closure = await session.get(OccurrenceClosure, occurrence.id)
    if closure is not None and closure.credit_rules is not None:
        return from_snapshot(closure.credit_rules)
    if series is None:
        series = await session.get_one(Series, occurrence.series_id)
    return await series_rules(session, series)


async def rules_by_session(
    session: AsyncSession, occurrence_ids: Sequence[int]
) -> dict[int, CreditRules]:
    """:func:`session_rules` of many sessions, in two queries (a physician's page)."""
    if not occurrence_ids:
        return {}
    rows = (
        await session.exec(
            select(Occurrence.id, Series, OccurrenceClosure.credit_rules)
            .join(Series, col(Series.id) == col(Occurrence.series_id))
            .outerjoin(
                OccurrenceClosure, col(OccurrenceClosure.occurrence_id) == col(Occurrence.id)
            )
            .where(col(Occurrence.id).in_(sorted(set(occurrence_ids))))
        )
    ).all()
    policies = await roundings(session)
    return {
        occurrence_id or 0: from_snapshot(stored)
        if stored is not None
        else _series_rules(series, policies)
        for occurrence_id, series, stored in rows
    }


def as_credited(series: Series, rules: CreditRules) -> Series:
    """A detached copy of the series (never stored) carrying the session's rules: what a
    certificate of that session prints as designated, even after the series was edited."""
    return Series.model_validate(
        series.model_dump()
        | {
            "credits": [dict(d) for d in rules.designations],
            "min_attendance_percent": rules.min_attendance_percent,
        }
    )


async def fix_rules(session: AsyncSession, occurrence_id: int) -> None:
    """Store the session's rules on its closure, once (a closure that holds them keeps them):
    from now on its awards are computed under these. Flushes; the caller commits."""
    occurrence = await session.get_one(Occurrence, occurrence_id)
    series = await session.get_one(Series, occurrence.series_id)
    rules = await series_rules(session, series)
    await session.exec(
        update(OccurrenceClosure)
        .where(
            col(OccurrenceClosure.occurrence_id) == occurrence_id,
            col(OccurrenceClosure.credit_rules).is_(None),
        )
        .values(credit_rules=rules.snapshot())
    )


async def final_sessions(session: AsyncSession, series: Series) -> int:
    """How many of the series' sessions have final credits."""
    found = await session.exec(
        select(func.count())
        .select_from(OccurrenceClosure)
        .join(Occurrence, col(Occurrence.id) == col(OccurrenceClosure.occurrence_id))
        .where(Occurrence.series_id == series.id)
    )
    return int(found.one())


async def final_sessions_keeping_rules(session: AsyncSession, series: Series) -> int:
    """How many of the series' final sessions keep rules other than the series' rules as they
    are now (each keeps the rules it was credited under)."""
    rows = (
        await session.exec(
            select(OccurrenceClosure.credit_rules)
            .join(Occurrence, col(Occurrence.id) == col(OccurrenceClosure.occurrence_id))
            .where(
                Occurrence.series_id == series.id, col(OccurrenceClosure.credit_rules).is_not(None)
            )
        )
    ).all()
    now = await series_rules(session, series)
    return sum(
        1 for stored in rows if stored is not None and not now.same_as(from_snapshot(stored))
    )
