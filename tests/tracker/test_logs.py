"""Tokens never reach the access log."""

from __future__ import annotations

import pytest

from tracker.logs import redact


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/feeds/phy_s3cr3t.ics", "/feeds/…"),
        ("/feeds/cal_s3cr3t.ics", "/feeds/…"),
        ("/cal_s3cr3t", "/cal_…"),
        ("/me/occurrences/12.ics", "/me/occurrences/12.ics"),
        ("/me/phy_s3cr3t", "/me/…"),
        ("/unsubscribe/abc123", "/unsubscribe/…"),
        ("/claims/Xy3_kL9qRt2mNw8vB4cD1e", "/claims/…"),
        ("/registration/Xy3_kL9qRt2mNw8vB4cD1e", "/registration/…"),
        ("/claims/clm_s3cr3t", "/claims/…"),
        ("/claims/whatever", "/claims/…"),
        ("/me/certificates/12.pdf", "/me/certificates/12.pdf"),
        ("/me", "/me"),
        ("/api/series?from=2027", "/api/series"),
        ("/calendar.ics", "/calendar.ics"),
    ],
)
def test_secret_path_segments_are_masked(path: str, logged: str) -> None:
    assert redact(path) == logged
