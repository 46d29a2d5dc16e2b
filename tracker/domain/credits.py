"""CME credit rules (SPEC 2 "Credits"), as pure functions over attendance facts.

AMA PRA Category 1 for live activities: 60 minutes = 1 credit, claimed in quarter hours.
Arithmetic is exact so that ties such as 7.5 and 37.5 minutes round the same way on every
machine: whole seconds and integers per attendee (:func:`credits_for`), ``Fraction`` in the
reference :func:`round_credit`.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Literal

#: The version of these rules, kept in every award's receipt (:mod:`tracker.domain.receipts`):
#: raise it with any change to how facts become minutes or minutes become credits, so that a
#: receipt read years later says which rules made it.
RULES_VERSION = "2026.4"

Kind = Literal["join", "leave", "ended"]
Rounding = Literal["quarter", "floor_quarter", "all_or_nothing"]
ROUNDINGS: tuple[Rounding, ...] = ("quarter", "floor_quarter", "all_or_nothing")
#: Sources whose facts are whole stays read from the platform's report after the session
#: (the API's reconciliation, the CSV import): each join has its leave.
REPORT_SOURCES = frozenset({"report", "zoom_report"})
#: How much earlier than a report's row a webhook may date the same join (both come from
#: Zoom's records, which agree to the second; a minute spares a clock step).
REPORT_SLACK = timedelta(minutes=1)


@dataclass(frozen=True)
class Fact:
    """One attendance fact of one physician at one occurrence."""

    kind: Kind
    at: datetime
    connection: str | None = None
    #: Where the fact came from (``zoom``, ``api``, ``zoom_report``...), for the receipt.
    source: str | None = None

    @property
    def reported(self) -> bool:
        """From a report (:data:`REPORT_SOURCES`), whose stays are closed."""
        return self.source in REPORT_SOURCES


@dataclass(frozen=True)
class Attendance:
    seconds: int
    anomalies: tuple[str, ...]

    @property
    def minutes(self) -> Fraction:
        return Fraction(self.seconds, 60)


#: One connection's stay before clipping: from, to, the connection's key, and whether a leave
#: closed it (else the end, the platform's end event, or now).
Stay = tuple[datetime, datetime, str, bool]


def _key(fact: Fact) -> str:
    """The connection a fact belongs to (``-``: the physician's one, when none is given)."""
    return fact.connection or "-"


def _instant(fact: Fact) -> tuple[datetime, str]:
    return fact.at, _key(fact)


def in_turn(facts: Iterable[Fact], open_now: Container[str]) -> Iterator[Fact]:
    """The joins and leaves of ``facts`` in the order they apply (the platform's end events are
    left out): by time, and at one instant on one connection by that connection's state, read
    from ``open_now`` (the connections open so far, which the caller keeps while it applies
    the facts this yields, one instant after the other):

    - open: its leaves, then its joins: a leave and a join in one second is a reconnect, and
      the connection goes on;
    - closed: its joins, then its leaves: a join and a leave in one second is a stay of no
      length (Zoom's times are whole seconds: a join dropped within a second), which counts
      nothing and is no anomaly.

    So the result depends on the facts, never on the order they arrived in. Before 2026.4 a
    leave came before a join at the same instant whatever the state, so a join and a leave of
    one second left the connection open until the end, and counted the whole session."""
    ordered = sorted((f for f in facts if f.kind != "ended"), key=_instant)
    count, index = len(ordered), 0
    while index < count:
        fact = ordered[index]
        after = index + 1
        if after == count or ordered[after].at != fact.at:  # nearly always: alone at its instant
            yield fact
            index = after
            continue
        instant = _instant(fact)
        while after < count and _instant(ordered[after]) == instant:
            after += 1
        first = "leave" if instant[1] in open_now else "join"
        yield from sorted(ordered[index:after], key=lambda same: same.kind != first)
        index = after


def _intervals(
    facts: Iterable[Fact], end: datetime, now: datetime | None
) -> tuple[list[Stay], list[str]]:
    every = list(facts)
    ended = sorted(f.at for f in every if f.kind == "ended")
    close_at = min(t for t in (end, now) if t is not None)
    open_since: dict[str, datetime] = {}
    intervals: list[Stay] = []
    anomalies: list[str] = []
    for fact in in_turn(every, open_since):
        key = _key(fact)
        if fact.kind == "join":
            if key in open_since:
                anomalies.append(f"join at {fact.at.isoformat()} while already joined on {key}")
                continue
            open_since[key] = fact.at
        elif fact.kind == "leave":
            started = open_since.pop(key, None)
            if started is None:
                anomalies.append(f"leave at {fact.at.isoformat()} without a join on {key}")
                continue
            intervals.append((started, fact.at, key, True))
    # A connection the webhooks left open (its leave was never delivered) would count up to the
    # end; when the platform's report holds the stay it opened, it knows when they left, so the
    # open connection is left to the report's stay (SPEC 8: lost webhooks, right credits).
    reported = {_key(f) for f in every if f.reported}
    spans = [(a, b) for a, b, key, _ in intervals if key in reported]
    for key, started in open_since.items():
        if not _reported_stay(started, spans):
            intervals.append(
                (started, max(started, _closing(started, ended, close_at)), key, False)
            )
    return intervals, anomalies


def _reported_stay(started: datetime, spans: list[tuple[datetime, datetime]]) -> bool:
    """Whether a report's stay holds a connection opened at ``started`` (from
    :data:`REPORT_SLACK` before the stay's join to its leave): the report knows when that
    connection closed. A report covers one instance of a webinar, and instances never run at
    the same time, so a stay of another instance (the run before a restart) never holds it:
    since 2026.3; before, any reported stay of the physician dropped every open connection, and
    a rejoin after a restart whose leave never came counted nothing."""
    return any(a - REPORT_SLACK <= started <= b for a, b in spans)


def _closing(started: datetime, ended: list[datetime], close_at: datetime) -> datetime:
    """When a connection left open since ``started`` closes: at the platform's first end event
    at or after its join (a host who ends the webinar and starts it again ends only the stays
    of the first run: since 2026.2; before, the first end event closed every stay, and a
    rejoin after a restart counted nothing), else at ``close_at`` (the end, or now)."""
    after = ended[bisect.bisect_left(ended, started)] if ended and started <= ended[-1] else None
    return min(close_at, after) if after is not None else close_at


def stays(
    facts: Iterable[Fact], *, end: datetime, now: datetime | None = None
) -> tuple[list[Stay], list[str]]:
    """Each connection's intervals as the facts give them, before clipping (the receipt)."""
    return _intervals(facts, end, now)


def merge(
    intervals: Iterable[tuple[datetime, datetime, str, bool]], *, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """``intervals`` clipped to [start, end] and merged (overlapping connections count once)."""
    clipped = sorted(
        (max(a, start), min(b, end)) for a, b, _, _ in intervals if min(b, end) > max(a, start)
    )
    merged: list[tuple[datetime, datetime]] = []
    for a, b in clipped:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def connected(
    facts: Iterable[Fact], *, start: datetime, end: datetime, now: datetime | None = None
) -> tuple[list[tuple[datetime, datetime]], list[str]]:
    """The merged intervals within [start, end] (overlapping connections counted once).

    A connection still open closes at the end (or at the platform's end event); with ``now``
    (provisional figures, while the session may still run) at ``now`` if that is earlier.
    """
    intervals, anomalies = _intervals(facts, end, now)
    return merge(intervals, start=start, end=end), anomalies


def attendance(
    facts: Iterable[Fact], *, start: datetime, end: datetime, now: datetime | None = None
) -> Attendance:
    """Seconds connected within [start, end], overlapping connections counted once; open
    connections count up to ``now`` when given (provisional), else up to the end (final)."""
    merged, anomalies = connected(facts, start=start, end=end, now=now)
    total = sum(int((b - a).total_seconds()) for a, b in merged)
    return Attendance(total, tuple(anomalies))


def round_credit(
    hours: Fraction, *, maximum: Fraction, rounding: Rounding, threshold_met: bool
) -> Fraction:
    """One credit type's amount for ``hours`` attended."""
    if not threshold_met or hours <= 0:
        return Fraction(0)
    if rounding == "all_or_nothing":
        return maximum
    quarters = (
        math.floor(hours * 4 + Fraction(1, 2)) if rounding == "quarter" else math.floor(hours * 4)
    )
    return min(Fraction(quarters, 4), maximum)


@functools.lru_cache(maxsize=1024)
def _exact(value: str) -> tuple[Fraction, float]:
    """A designated maximum (as written) exactly, and as the float stored."""
    exact = Fraction(value)
    return exact, float(exact)


@functools.lru_cache(maxsize=1024)
def needed_seconds(duration_minutes: int, percent: str) -> int:
    """The fewest whole seconds that meet a minimum of ``percent`` % of ``duration_minutes``:
    ``minutes >= duration * percent / 100`` holds for whole seconds exactly from this one on."""
    return math.ceil(Fraction(duration_minutes) * Fraction(percent) * 60 / 100)


def _amount(seconds: int, *, maximum: str, rounding: Rounding, threshold_met: bool) -> float:
    """:func:`round_credit` of ``seconds / 3600`` hours as a float, in integers: a quarter hour is
    900 s, so ``floor(hours * 4 + 1/2)`` is ``(seconds + 450) // 900`` and ``floor(hours * 4)``
    is ``seconds // 900``; the cap compares ``quarters / 4`` with the exact maximum."""
    if not threshold_met or seconds <= 0:
        return 0.0
    cap, cap_float = _exact(maximum)
    if rounding == "all_or_nothing":
        return cap_float
    quarters = (seconds + 450) // 900 if rounding == "quarter" else seconds // 900
    if quarters * cap.denominator <= 4 * cap.numerator:
        return quarters / 4
    return cap_float


def credits_for(
    attended: Attendance,
    *,
    duration_minutes: int,
    min_attendance_percent: float | None,
    designations: Sequence[Mapping[str, object]],
    roundings: Mapping[str, Rounding],
) -> dict[str, float]:
    """Credits per type for one physician at one occurrence (SPEC 2 "Credits", steps 4 and 5).

    Whole seconds and integer arithmetic (the same results as :func:`round_credit` over exact
    fractions, which a property test checks), since this runs once per attendee per
    finalisation."""
    seconds = attended.seconds
    threshold_met = seconds > 0
    if min_attendance_percent is not None:
        needed = needed_seconds(duration_minutes, str(min_attendance_percent))
        threshold_met = threshold_met and seconds >= needed
    result: dict[str, float] = {}
    for designation in designations:
        code = str(designation["type"])
        result[code] = _amount(
            seconds,
            maximum=str(designation["max"]),
            rounding=roundings.get(code, "quarter"),
            threshold_met=threshold_met,
        )
    return result
