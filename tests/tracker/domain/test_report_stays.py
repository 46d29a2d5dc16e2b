"""Credits from webhooks and a report's stays together (SPEC 8): the same stay from both counts
once, and a connection the webhooks left open is left to the report."""

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
