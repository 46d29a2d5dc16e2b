"""Finalisation's batch arithmetic (``FinalBatch``) gives exactly what the reference gives: the
receipt of :func:`~tracker.domain.receipts.explain` completed by
:func:`~tracker.domain.receipts.complete`, with the credits of ``credits_for``, for any facts in
any order, down to the JSON text stored (``json.dumps``, the JSON column's serializer)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.domain.credits import Attendance, Fact, Kind, Rounding, credits_for
from tracker.domain.receipts import FinalBatch, RawFact, complete, explain, iso, terms

START = datetime(2027, 3, 1, 11, 30, tzinfo=UTC)
END = START + timedelta(minutes=60)
COMPUTED = iso(START + timedelta(hours=3))

#: Instants around the window (before it, inside, after it), some with microseconds.
instants = st.integers(min_value=-1_800_000_000, max_value=5_400_000_000).map(
    lambda micro: START + timedelta(microseconds=micro)
)
whole_minutes = st.integers(min_value=-30, max_value=90).map(lambda m: START + timedelta(minutes=m))
moments = st.one_of(instants, whole_minutes)  # whole minutes: ties between facts
connections = st.sampled_from([None, "", "-", "a", "b"])
sources = st.sampled_from([None, "api", "zoom", "zoom_report", "report"])
raw_facts = st.tuples(st.sampled_from(["join", "leave"]), moments, connections, sources)
#: One stay (the common case and the batch's shortcut), in either order.
one_stay = st.tuples(moments, moments, connections, sources, sources).flatmap(
    lambda t: st.permutations(
        [("join", min(t[0], t[1]), t[2], t[3]), ("leave", max(t[0], t[1]), t[2], t[4])]
    )
)


def _stays_in_turn(
    times: list[datetime], keys: list[str | None], origins: list[str | None], tie: bool
) -> list[RawFact]:
    """A join and a leave per stay, in time order, the n-th stay on ``keys[n]``; with ``tie``,
    the second join at the very instant of the first leave."""
    facts: list[RawFact] = []
    for n, at in enumerate(times[: len(times) // 2 * 2]):
        joined_at_the_leave = tie and n == 2
        facts.append(
            (
                "leave" if n % 2 else "join",
                times[1] if joined_at_the_leave else at,
                keys[n // 2],
                origins[n],
            )
        )
    return facts


#: Stays one after the other, a drop and a rejoin or more, on one connection or a new one each
#: time (the batch's shortcut too); a rejoin may fall on the instant of the leave before it,
#: and the facts come in any order.
rejoins = st.builds(
    _stays_in_turn,
    st.lists(moments, min_size=4, max_size=8, unique=True).map(sorted),
    st.lists(connections, min_size=4, max_size=4),
    st.lists(sources, min_size=8, max_size=8),
    st.booleans(),
).flatmap(st.permutations)
own_facts = st.one_of(one_stay, rejoins, st.lists(raw_facts, max_size=8))
end_events = st.lists(st.tuples(moments, sources), max_size=2)
designations = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["AMA_PRA_1", "ABIM_MOC", "DPC_HOURS"]),
            "max": st.sampled_from([1, 0.75, 1.5, "0.25"]),
        }
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda d: d["type"],
)
policies = st.dictionaries(
    st.sampled_from(["AMA_PRA_1", "ABIM_MOC", "DPC_HOURS"]),
    st.sampled_from(["quarter", "floor_quarter", "all_or_nothing"]),
)


def _reference(
    own: list[RawFact],
    ended: list[Fact],
    credits_of: Any,
    shared: Any,
) -> tuple[Attendance, dict[str, float], dict[str, Any]]:
    """The figures as finalisation computed them before the batch's shortcut."""
    facts = [Fact(cast(Kind, kind), at, connection, source) for kind, at, connection, source in own]
    attended, part = explain(facts + ended, start=START, end=END)
    credits = credits_of(attended)
    return attended, credits, complete(part, shared, credits=credits, computed_at=COMPUTED)


@settings(max_examples=2000, deadline=None)
@given(
    own=own_facts,
    ends=end_events,
    designated=designations,
    roundings=policies,
    percent=st.sampled_from([None, 50.0, 75.0, 100.0]),
    batch_first=st.lists(own_facts, max_size=3),
)
def test_the_batch_gives_the_reference_figures_and_receipt_for_any_facts(
    own: list[RawFact],
    ends: list[tuple[datetime, str | None]],
    designated: list[dict[str, object]],
    roundings: dict[str, Rounding],
    percent: float | None,
    batch_first: list[list[RawFact]],
) -> None:
    ended = [Fact("ended", at, source=source) for at, source in ends]

    def credits_of(attended: Attendance) -> dict[str, float]:
        return credits_for(
            attended,
            duration_minutes=60,
            min_attendance_percent=percent,
            designations=designated,
            roundings=roundings,
        )

    shared = terms(
        duration_minutes=60,
        min_attendance_percent=percent,
        designations=designated,
        roundings=roundings,
    )
    batch = FinalBatch(
        start=START,
        end=END,
        ended=ended,
        shared=shared,
        credits_of=credits_of,
        computed_at=COMPUTED,
    )
    for other in batch_first:  # earlier awards of the batch share its cached terms
        batch.figures(other)

    attended, credits, receipt = batch.figures(own)

    expected_attended, expected_credits, expected_receipt = _reference(
        own, ended, credits_of, shared
    )
    assert (attended, credits) == (expected_attended, expected_credits)
    assert receipt == json.dumps(expected_receipt)  # the stored text, byte for byte
    assert json.loads(receipt) == expected_receipt
    assert batch.figures(list(reversed(own)))[2] == receipt


def test_a_join_and_its_leave_in_one_second_give_nothing_in_a_batch() -> None:
    shared = terms(
        duration_minutes=60,
        min_attendance_percent=None,
        designations=[{"type": "AMA_PRA_1", "max": 1}],
        roundings={},
    )

    def credits_of(attended: Attendance) -> dict[str, float]:
        return credits_for(
            attended,
            duration_minutes=60,
            min_attendance_percent=None,
            designations=[{"type": "AMA_PRA_1", "max": 1}],
            roundings={},
        )

    batch = FinalBatch(
        start=START, end=END, ended=[], shared=shared, credits_of=credits_of, computed_at=COMPUTED
    )
    instant = START + timedelta(minutes=5)

    attended, credits, receipt = batch.figures(
        [("leave", instant, "p1", "zoom"), ("join", instant, "p1", "zoom")]
    )

    assert (attended, credits) == (Attendance(0, ()), {"AMA_PRA_1": 0.0})
    assert json.loads(receipt)["connections"] == [
        {"id": "p1", "sources": ["zoom"], "intervals": [[300, 300, 0, True]]}
    ]
