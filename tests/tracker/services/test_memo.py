"""What a process remembers of the database holds until it writes, or for so many seconds."""

from __future__ import annotations

import time

import pytest

from tracker.services.memo import Memo


def test_a_value_holds_while_nothing_was_written_and_time_remains() -> None:
    memo: Memo[str] = Memo()
    memo.put("feed", "v1", generation=3, seconds=60)

    assert memo.get("feed", generation=3, seconds=60) == "v1"
    assert memo.get("feed", generation=4, seconds=60) is None  # this process committed since
    assert memo.get("feed", generation=3, seconds=60) is None  # and it is gone


def test_a_value_expires_after_its_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    memo: Memo[str] = Memo()
    memo.put("feed", "v1", generation=0, seconds=5)
    later = time.monotonic() + 5
    monkeypatch.setattr("tracker.services.memo.time.monotonic", lambda: later)

    assert memo.get("feed", generation=0, seconds=5) is None


def test_no_seconds_means_nothing_is_kept() -> None:
    memo: Memo[str] = Memo()
    memo.put("feed", "v1", generation=0, seconds=0)

    assert memo.get("feed", generation=0, seconds=60) is None


def test_the_least_recently_used_go_first() -> None:
    memo: Memo[int] = Memo(size=2)
    memo.put("a", 1, generation=0, seconds=60)
    memo.put("b", 2, generation=0, seconds=60)
    assert memo.get("a", generation=0, seconds=60) == 1
    memo.put("c", 3, generation=0, seconds=60)

    assert memo.get("b", generation=0, seconds=60) is None
    assert (memo.get("a", generation=0, seconds=60), memo.get("c", generation=0, seconds=60)) == (
        1,
        3,
    )
