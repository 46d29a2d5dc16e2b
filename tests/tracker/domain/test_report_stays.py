"""Credits from webhooks and a report's stays together (SPEC 8): the same stay from both counts
once, and a connection the webhooks left open is left to the report stay that holds it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tracker.domain.credits import Fact, attendance

START = datetime(2027, 3, 1, 11, 30, tzinfo=UTC)
END = START + timedelta(hours=1)


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def test_a_stay_known_from_webhooks_and_the_report_counts_once() -> None:
    webhooks = [Fact("join", at(0), "w1"), Fact("leave", at(20), "w1")]
    report = [Fact("join", at(0), "r1", "report"), Fact("leave", at(20), "r1", "report")]

    assert attendance(webhooks + report, start=START, end=END).seconds == 1200
    assert attendance(webhooks, start=START, end=END).seconds == 1200


def test_a_join_whose_leave_was_lost_is_left_to_the_report() -> None:
    webhooks = [Fact("join", at(0), "w1")]  # the leave at 20 never came
    report = [Fact("join", at(0), "r1", "report"), Fact("leave", at(20), "r1", "report")]

    assert attendance(webhooks, start=START, end=END).seconds == 3600
    assert attendance(webhooks + report, start=START, end=END).seconds == 1200


def test_closed_webhook_stays_the_report_lacks_still_count() -> None:
    webhooks = [Fact("join", at(30), "w2"), Fact("leave", at(40), "w2")]
    report = [Fact("join", at(0), "r1", "report"), Fact("leave", at(20), "r1", "report")]

    assert attendance(webhooks + report, start=START, end=END).seconds == 1800


def test_a_connection_opened_after_the_reported_stays_still_counts() -> None:
    # the host ended the webinar at 25 and started it again: the first run's report does not
    # know the rejoin at 30, whose leave never came
    webhooks = [Fact("join", at(0), "w1"), Fact("leave", at(20), "w1"), Fact("join", at(30), "w2")]
    report = [Fact("join", at(0), "r1", "report"), Fact("leave", at(20), "r1", "report")]
    ended = [Fact("ended", at(25), source="zoom")]

    assert attendance(webhooks + report + ended, start=START, end=END).seconds == 1200 + 1800


def test_a_webhook_join_a_few_seconds_before_the_reported_one_is_left_to_the_report() -> None:
    early = START + timedelta(minutes=10, seconds=-5)
    webhooks = [Fact("join", early, "w1")]
    report = [Fact("join", at(10), "r1", "zoom_report"), Fact("leave", at(20), "r1", "zoom_report")]

    assert attendance(webhooks + report, start=START, end=END).seconds == 600


def test_a_reported_stay_of_no_length_counts_nothing() -> None:
    # a report row whose join and leave fall in one second (rules 2026.4; before, its leave
    # came first and was dropped, and its join counted to the end)
    report = [Fact("join", at(5), "r1", "zoom_report"), Fact("leave", at(5), "r1", "zoom_report")]

    result = attendance(report, start=START, end=END)

    assert (result.seconds, result.anomalies) == (0, ())
