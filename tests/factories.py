"""Request bodies and helpers shared by the HTTP tests."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient


def series_body(**overrides: Any) -> dict[str, Any]:
    """A weekly Monday 12:30 Paris series that crosses the March 2027 DST change."""
    body: dict[str, Any] = {
        "title": "Les lundis de la santé numérique",
        "description": "Une heure, chaque lundi.",
        "timezone": "Europe/Paris",
        "start": "2027-03-01T12:30:00",
        "duration_minutes": 60,
        "rrule": "FREQ=WEEKLY;COUNT=8;BYDAY=MO",
        "join_url": "https://zoom.us/j/81234567890",
        "credits": [{"type": "AMA_PRA_1", "max": 1.0}],
        "language": "fr",
        "zoom_webinar_id": "81234567890",
    }
    body.update(overrides)
    return body


async def create_series(
    client: TestClient, auth: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/api/series", json=series_body(**overrides), headers=auth)
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def occurrences(
    client: TestClient, auth: dict[str, str], series_id: int
) -> list[dict[str, Any]]:
    response = await client.get(f"/api/series/{series_id}/occurrences", headers=auth)
    assert response.status == 200, await response.text()
    rows: list[dict[str, Any]] = await response.json()
    return rows


def physician_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "first_name": "Jeanne",
        "last_name": "Durand",
        "email": "jeanne.durand@example.org",
        "timezone": "Europe/Paris",
        "language": "fr",
        "npi": "1234567893",
        "consent_board_reporting": True,
    }
    body.update(overrides)
    return body


async def create_physician(
    client: TestClient, auth: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/api/physicians", json=physician_body(**overrides), headers=auth)
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def job_context(database: Any, scheduler: Any, *, grace_minutes: int = 90) -> Any:
    """A JobContext for tests, with the test settings' mail identity."""
    from datetime import timedelta

    from tracker.jobs import JobContext
    from tracker.mailings import MailSettings

    mail = MailSettings(
        base_url="https://cme.example.org",
        sender="webinars@cme.example.org",
        provider="Institut du Numérique en Santé",
        labels={
            "AMA_PRA_1": "AMA PRA Category 1 Credit(s)™",
            "ABIM_MOC": "ABIM MOC points",
            "DPC_HOURS": "heures DPC",
        },
    )
    return JobContext(
        database=database, scheduler=scheduler, grace=timedelta(minutes=grace_minutes), mail=mail
    )
