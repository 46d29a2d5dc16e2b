"""SPEC 2 "Credits", table by table: intervals, clipping, merging, threshold and rounding."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.domain.credits import (
    Attendance,
    Fact,
    Rounding,
    attendance,
    credits_for,
    in_turn,
    round_credit,
    stays,
)

START = datetime(2027, 3, 1, 11, 30, tzinfo=UTC)
END = START + timedelta(minutes=60)


def at(minute: float) -> datetime:
    return START + timedelta(seconds=minute * 60)


def join(minute: float, connection: str | None = None) -> Fact:
    return Fact("join", at(minute), connection)


def leave(minute: float, connection: str | None = None) -> Fact:
    return Fact("leave", at(minute), connection)


@pytest.mark.parametrize(
    ("case", "facts", "minutes", "anomalies"),
    [
        ("whole session", [join(0), leave(60)], 60, 0),
        ("rejoin after a break", [join(0), leave(20), join(30), leave(60)], 50, 0),
        ("rejoin at the same instant", [join(0), leave(20), join(20), leave(60)], 60, 0),
        (
            "two devices overlapping count once",
            [join(0, "a"), join(10, "b"), leave(40, "a"), leave(50, "b")],
            50,
            0,
        ),
        (
            "two devices apart add up",
            [join(0, "a"), leave(10, "a"), join(20, "b"), leave(30, "b")],
            20,
            0,
        ),
        ("leave without join is ignored", [leave(10), join(20), leave(30)], 10, 1),
        ("join without leave closes at the end", [join(45)], 15, 0),
        ("join before start is clipped", [join(-15), leave(10)], 10, 0),
        ("leave after end is clipped", [join(50), leave(90)], 10, 0),
        ("entirely before start", [join(-30), leave(-5)], 0, 0),
        ("entirely after end", [join(61), leave(70)], 0, 0),
        ("ended event closes open joins", [join(10), Fact("ended", at(40))], 30, 0),
        (  # the host ended the webinar and started it again: the rejoin counts to the end
            "a rejoin after the webinar ended and restarted",
            [join(5, "a"), Fact("ended", at(7)), join(8, "b")],
            2 + 52,
            0,
        ),
        (
            "each run's end closes the stays of that run",
            [join(5, "a"), Fact("ended", at(7)), join(8, "b"), Fact("ended", at(30))],
            2 + 22,
            0,
        ),
        (
            "a join at the end event's instant counts nothing",
            [Fact("ended", at(40)), join(40)],
            0,
            0,
        ),
        ("second join on an open connection", [join(0), join(10), leave(30)], 30, 1),
        ("seconds count", [join(0), leave(7.5)], 7.5, 0),
        # one instant on one connection: by the connection's state (rules 2026.4)
        ("a join and its leave in one second count nothing", [join(5), leave(5)], 0, 0),
        ("the same, given leave first", [leave(5), join(5)], 0, 0),
        ("a stay of no length, then a stay", [join(5), leave(5), join(30)], 30, 0),
        ("a reconnect in one second goes on to the end", [join(0), leave(20), join(20)], 60, 0),
        ("the same, given join first", [join(0), join(20), leave(20)], 60, 0),
        (  # closed: the joins, then the leave: the second join finds it open
            "two joins and a leave in one second, closed before",
            [join(5), join(5), leave(5)],
            0,
            1,
        ),
        (  # open: the leave, then the joins: the second join finds it open again
            "a leave and two joins in one second, open before",
            [join(0), join(20), leave(20), join(20)],
            60,
            1,
        ),
        (  # open: the leaves, then the join: the second leave finds it closed
            "two leaves and a join in one second, open before",
            [join(0), leave(20), join(20), leave(20)],
            60,
            1,
        ),
        (
            "a stay of no length on one device, a stay on another",
            [join(10, "a"), leave(10, "a"), join(10, "b"), leave(40, "b")],
            30,
            0,
        ),
        (
            "a reconnect on one device, a stay of no length on another, one second",
            [join(0, "a"), leave(20, "a"), join(20, "a"), join(20, "b"), leave(20, "b")],
            60,
            0,
        ),
        ("no connection and an empty one are one", [join(5, ""), leave(5)], 0, 0),
        (
            "a stay of no length at the end event",
            [join(40), leave(40), Fact("ended", at(40))],
            0,
            0,
        ),
        (
            "a reconnect at the end event",
            [join(0), leave(40), join(40), Fact("ended", at(40))],
            40,
            0,
        ),
        ("a stay of no length at the start", [join(0), leave(0)], 0, 0),
        ("a stay of no length at the end", [join(60), leave(60)], 0, 0),
        ("a stay of no length before the start", [join(-5), leave(-5)], 0, 0),
        ("a reconnect at the start", [join(-10), leave(0), join(0)], 60, 0),
        ("a reconnect at the end", [join(50), leave(60), join(60)], 10, 0),
    ],
)
def test_attended_minutes(case: str, facts: list[Fact], minutes: float, anomalies: int) -> None:
    result = attendance(facts, start=START, end=END)

    assert (result.minutes, len(result.anomalies)) == (Fraction(str(minutes)), anomalies), case


def test_any_delivery_order_and_duplicates_give_the_same_minutes() -> None:
    facts = [
        join(-5, "a"),
        leave(20, "a"),
        join(25, "a"),
        join(30, "b"),
        leave(50, "b"),
        leave(55, "a"),
    ]
    expected = attendance(facts, start=START, end=END)

    for order in itertools.permutations(facts):
        assert (
            attendance(list(order) + list(order[:2]), start=START, end=END).seconds
            == expected.seconds
        )


def test_a_join_and_its_leave_in_one_second_give_no_credit_and_no_anomaly() -> None:
    for facts in ([join(5), leave(5)], [leave(5), join(5)]):
        attended = attendance(facts, start=START, end=END)

        credits = credits_for(
            attended,
            duration_minutes=60,
            min_attendance_percent=None,
            designations=[{"type": "AMA_PRA_1", "max": 1.0}],
            roundings={"AMA_PRA_1": "quarter"},
        )

        assert (attended, credits) == (Attendance(0, ()), {"AMA_PRA_1": 0.0})


def test_a_stay_of_no_length_is_a_closed_interval_of_no_length() -> None:
    intervals, anomalies = stays([leave(5, "a"), join(5, "a")], end=END)

    assert (intervals, anomalies) == ([(at(5), at(5), "a", True)], [])


def test_a_reconnect_in_one_second_is_two_intervals() -> None:
    intervals, anomalies = stays([join(20, "a"), leave(20, "a"), join(0, "a")], end=END)

    assert (intervals, anomalies) == (
        [(at(0), at(20), "a", True), (at(20), END, "a", False)],
        [],
    )


def test_in_turn_orders_one_instant_by_the_connections_state() -> None:
    facts = [join(5, "a"), leave(5, "a"), leave(5, "b"), join(5, "b")]

    assert list(in_turn(facts, {"b"})) == [join(5, "a"), leave(5, "a"), leave(5, "b"), join(5, "b")]
    assert list(in_turn(facts, {"a"})) == [leave(5, "a"), join(5, "a"), join(5, "b"), leave(5, "b")]


#: Whole seconds a few apart, so that facts often share an instant (Zoom's times are whole
#: seconds); a few around the window's edges.
_seconds = st.sampled_from([-5, 0, 1, 2, 3, 600, 601, 3599, 3600, 3605])
_facts = st.lists(
    st.builds(
        Fact,
        st.sampled_from(["join", "join", "leave", "leave", "ended"]),
        _seconds.map(lambda s: START + timedelta(seconds=s)),
        st.sampled_from([None, "", "a", "b"]),
        st.sampled_from([None, "zoom", "api", "zoom_report"]),
    ),
    max_size=10,
)


@settings(max_examples=500, deadline=None)
@given(facts=_facts, data=st.data(), now=st.none() | _seconds)
def test_any_order_of_the_same_facts_gives_the_same_intervals(
    facts: list[Fact], data: st.DataObject, now: int | None
) -> None:
    shuffled = data.draw(st.permutations(facts))
    as_of = None if now is None else START + timedelta(seconds=now)

    assert stays(shuffled, end=END, now=as_of) == stays(facts, end=END, now=as_of)
    assert attendance(shuffled, start=START, end=END, now=as_of) == attendance(
        facts, start=START, end=END, now=as_of
    )


@settings(max_examples=500, deadline=None)
@given(facts=_facts, second=_seconds, data=st.data())
def test_a_stay_of_no_length_on_a_new_connection_changes_nothing(
    facts: list[Fact], second: int, data: st.DataObject
) -> None:
    instant = START + timedelta(seconds=second)
    stay = [Fact("join", instant, "new"), Fact("leave", instant, "new")]
    shuffled = data.draw(st.permutations(facts + stay))

    assert attendance(shuffled, start=START, end=END) == attendance(facts, start=START, end=END)


@settings(max_examples=500, deadline=None)
@given(
    times=st.lists(_seconds, min_size=3, max_size=3, unique=True).map(sorted),
    data=st.data(),
)
def test_a_reconnect_in_one_second_counts_as_one_stay(
    times: list[int], data: st.DataObject
) -> None:
    joined, reconnected, left = (START + timedelta(seconds=s) for s in times)
    one_stay = [Fact("join", joined, "a"), Fact("leave", left, "a")]
    reconnect = [Fact("leave", reconnected, "a"), Fact("join", reconnected, "a")]
    shuffled = data.draw(st.permutations(one_stay + reconnect))

    assert attendance(shuffled, start=START, end=END) == attendance(one_stay, start=START, end=END)


@pytest.mark.parametrize(
    ("minutes", "rounding", "maximum", "expected"),
    [
        (7.5, "quarter", 1, 0.25),  # exact half quarter rounds up
        (7.4, "quarter", 1, 0),
        (37.5, "quarter", 1, 0.75),
        (37.4, "quarter", 1, 0.5),
        (52.5, "quarter", 1, 1.0),
        (90, "quarter", 1, 1.0),  # capped at the designated maximum
        (90, "quarter", 2, 1.5),
        (7.5, "floor_quarter", 1, 0),
        (37.5, "floor_quarter", 1, 0.5),
        (59.9, "floor_quarter", 1, 0.75),
        (60, "floor_quarter", 1, 1.0),
        (1, "all_or_nothing", 1.5, 1.5),
        (0, "quarter", 1, 0),
        (0, "all_or_nothing", 1, 0),
    ],
)
def test_rounding_policies(minutes: float, rounding: str, maximum: float, expected: float) -> None:
    amount = round_credit(
        Fraction(str(minutes)) / 60,
        maximum=Fraction(str(maximum)),
        rounding=rounding,  # type: ignore[arg-type]  # parametrised with the policies' names
        threshold_met=True,
    )

    assert amount == Fraction(str(expected))


@pytest.mark.parametrize(
    ("minutes", "percent", "expected"),
    [
        (30, 50, {"AMA_PRA_1": 0.5, "DPC_HOURS": 1.0}),  # exactly at the threshold: met
        (29.99, 50, {"AMA_PRA_1": 0.0, "DPC_HOURS": 0.0}),  # just below: every credit is 0
        (29.99, None, {"AMA_PRA_1": 0.5, "DPC_HOURS": 1.0}),  # no minimum set
        (45, 75, {"AMA_PRA_1": 0.75, "DPC_HOURS": 1.0}),
    ],
)
def test_threshold_applies_to_every_credit_type(
    minutes: float, percent: float | None, expected: dict[str, float]
) -> None:
    attended = attendance([join(0), leave(minutes)], start=START, end=END)

    result = credits_for(
        attended,
        duration_minutes=60,
        min_attendance_percent=percent,
        designations=[{"type": "AMA_PRA_1", "max": 1.0}, {"type": "DPC_HOURS", "max": 1.0}],
        roundings={"AMA_PRA_1": "quarter", "DPC_HOURS": "all_or_nothing"},
    )

    assert result == expected


def _exact_credits(
    seconds: int,
    *,
    duration_minutes: int,
    min_attendance_percent: float | None,
    designations: list[dict[str, object]],
    roundings: dict[str, Rounding],
) -> dict[str, float]:
    """The credits as computed before integer arithmetic: minutes and hours as exact fractions,
    every credit through :func:`round_credit` (the reference)."""
    minutes = Fraction(seconds, 60)
    threshold_met = minutes > 0
    if min_attendance_percent is not None:
        needed = Fraction(duration_minutes) * Fraction(str(min_attendance_percent)) / 100
        threshold_met = threshold_met and minutes >= needed
    return {
        str(d["type"]): float(
            round_credit(
                minutes / 60,
                maximum=Fraction(str(d["max"])),
                rounding=roundings.get(str(d["type"]), "quarter"),
                threshold_met=threshold_met,
            )
        )
        for d in designations
    }


@settings(max_examples=1000, deadline=None)
@given(
    seconds=st.one_of(
        st.integers(min_value=0, max_value=6 * 3600),
        # around every quarter-hour boundary and its half, where rounding turns
        st.integers(min_value=0, max_value=24).flatmap(
            lambda q: st.integers(min_value=q * 450 - 3, max_value=q * 450 + 3)
        ),
    ),
    duration_minutes=st.integers(min_value=1, max_value=480),
    percent=st.one_of(
        st.none(),
        st.sampled_from([0, 0.5, 12.5, 33.3, 50, 66.67, 75, 80.01, 99.99, 100]),
        st.floats(min_value=0, max_value=100, allow_nan=False).map(lambda p: round(p, 2)),
    ),
    maxima=st.lists(
        st.one_of(
            st.sampled_from([0, 0.25, 0.5, 0.75, 1, 1.0, 1.5, 2.25, 3, 7.75]),
            st.floats(min_value=0, max_value=10, allow_nan=False).map(lambda m: round(m, 2)),
        ),
        min_size=3,
        max_size=3,
    ),
)
def test_integer_credit_arithmetic_equals_the_exact_fractions(
    seconds: int,
    duration_minutes: int,
    percent: float | None,
    maxima: list[float],
) -> None:
    roundings: dict[str, Rounding] = {"A": "quarter", "B": "floor_quarter", "C": "all_or_nothing"}
    designations: list[dict[str, object]] = [
        {"type": code, "max": maximum} for code, maximum in zip("ABC", maxima, strict=True)
    ]
    designations.append({"type": "D", "max": maxima[0]})  # no rounding set: quarter

    result = credits_for(
        Attendance(max(seconds, 0), ()),
        duration_minutes=duration_minutes,
        min_attendance_percent=percent,
        designations=designations,
        roundings=roundings,
    )

    assert result == _exact_credits(
        max(seconds, 0),
        duration_minutes=duration_minutes,
        min_attendance_percent=percent,
        designations=designations,
        roundings=roundings,
    )
