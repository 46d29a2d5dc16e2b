"""Request bodies and helpers shared by the HTTP tests."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from tracker.domain.identifiers import luhn_check_digit


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


async def every_item(
    client: TestClient, auth: dict[str, str], url: str, **params: str
) -> list[dict[str, Any]]:
    """Every item of a paged list route, following ``next_cursor`` to the last page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "500", **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query, headers=auth)
        assert response.status == 200, await response.text()
        page: dict[str, Any] = await response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def occurrences(
    client: TestClient, auth: dict[str, str], series_id: int
) -> list[dict[str, Any]]:
    return await every_item(client, auth, f"/api/series/{series_id}/occurrences")


DEFAULT_EMAIL = "jeanne.durand@example.org"


def npi_for(email: str) -> str:
    """A valid NPI of this address's own: ``1234567893`` for the default physician's, another
    for every other address (an NPI identifies one person, so two physicians made with the
    default body must not share it)."""
    if email.lower() == DEFAULT_EMAIL:
        return "1234567893"
    payload = "2" + str(int(hashlib.sha256(email.lower().encode()).hexdigest(), 16) % 10**8).zfill(
        8
    )
    return payload + str(luhn_check_digit("80840" + payload))


def physician_body(**overrides: Any) -> dict[str, Any]:
    """Jeanne Durand's body; another address gets its own NPI unless ``npi`` is given."""
    body: dict[str, Any] = {
        "first_name": "Jeanne",
        "last_name": "Durand",
        "email": DEFAULT_EMAIL,
        "timezone": "Europe/Paris",
        "language": "fr",
        "consent_board_reporting": True,
    }
    body.update(overrides)
    if "npi" not in overrides:
        body["npi"] = npi_for(str(body["email"]))
    return body


async def create_physician(
    client: TestClient, auth: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    """A physician through the API; no welcome email unless ``send_welcome=True`` (the tests
    of other emails count only theirs)."""
    body = physician_body(**({"send_welcome": False} | overrides))
    response = await client.post("/api/physicians", json=body, headers=auth)
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def job_context(database: Any, scheduler: Any, *, grace_minutes: int = 90) -> Any:
    """A JobContext for tests, with the test settings' mail identity."""
    from datetime import timedelta

    from schedules.wording import CreditLabels
    from tracker.domain.mailings import MailSettings
    from tracker.jobs import JobContext

    mail = MailSettings(
        base_url="https://cme.example.org",
        sender="webinars@cme.example.org",
        provider="Institut du Numérique en Santé",
        labels=CreditLabels(
            {
                "AMA_PRA_1": "AMA PRA Category 1 Credit(s)™",
                "ABIM_MOC": "ABIM MOC points",
                "DPC_HOURS": "heures DPC",
            },
            # as migration 0021 seeds them
            {
                "ABIM_MOC": {"fr": "points MOC de l'ABIM", "en": "ABIM MOC points"},
                "DPC_HOURS": {"fr": "heures DPC", "en": "DPC hours"},
            },
        ),
    )
    return JobContext(
        database=database, scheduler=scheduler, grace=timedelta(minutes=grace_minutes), mail=mail
    )


#: In :func:`ended_session`, attendees with a full hour (and so a certificate); everyone else
#: stayed five minutes (no credit).
CERTIFIED = 5


async def ended_session(
    database: Any, attendees: int, *, ended: datetime, certified: int = CERTIFIED
) -> int:
    """One ended one-hour session (1 AMA credit) with ``attendees`` matched physicians, each
    with a join and a leave; the first ``certified`` stayed the hour."""
    from sqlalchemy import insert
    from sqlmodel import col, select

    from schedules.occurrences import list_occurrences
    from schedules.schemas import SeriesCreate
    from schedules.series import create_series as store_series
    from tracker.domain.models import AttendanceEvent, Physician

    start = ended - timedelta(hours=1)
    data = SeriesCreate.model_validate(
        {
            "title": "Grand round",
            "timezone": "UTC",
            "start": start.replace(tzinfo=None).isoformat(),
            "duration_minutes": 60,
            "join_url": "https://zoom.us/j/1",
            "credits": [{"type": "AMA_PRA_1", "max": 1}],
        }
    )
    async with database.session() as session:
        series = await store_series(session, data, credit_types=["AMA_PRA_1"], now=start)
        await session.commit()
        occurrence_id = (await list_occurrences(session, series.id or 0))[0].id or 0
        if not attendees:
            return occurrence_id
        hashes = [f"{n:064d}" for n in range(attendees)]
        await session.exec(
            insert(Physician),
            params=[
                Physician(
                    first_name="Ana",
                    last_name=f"Attendee {n:05d}",
                    email=f"a{n}@example.org",
                    token_hash=token_hash,
                ).model_dump(
                    exclude={"id", "feed_secret", "token_generation"}
                )  # migration tests run it on 0006
                for n, token_hash in enumerate(hashes)
            ],
        )
        query = (
            select(Physician.id)
            .where(col(Physician.token_hash).in_(hashes))
            .order_by(col(Physician.id))
        )
        ids = list((await session.exec(query)).all())
        events = []
        for n, physician_id in enumerate(ids):
            stay = timedelta(hours=1) if n < certified else timedelta(minutes=5)
            for kind, at in (("join", start), ("leave", start + stay)):
                events.append(
                    AttendanceEvent(
                        source="api",
                        external_id=f"{kind}-{physician_id}",
                        kind=kind,
                        at=at,
                        occurrence_id=occurrence_id,
                        physician_id=physician_id,
                        series_id=series.id,
                        received_at=at,
                        # "dismissed" (0017) left to its server default: the migration tests
                        # insert these into older schemas
                    ).model_dump(exclude={"id", "dismissed"})
                )
        await session.exec(insert(AttendanceEvent), params=events)
        await session.commit()
    return occurrence_id


async def queue_messages(database: Any, count: int) -> None:
    """``count`` plain messages in the outbox, due now (keys ``test:0``, ``test:1``, …)."""
    from notifications.compose import Rendered, build_message
    from notifications.outbox import enqueue
    from schedules.clock import utcnow

    now = utcnow()  # whole seconds, as the worker's clock
    async with database.session() as session:
        for n in range(count):
            message = build_message(
                Rendered(f"Message {n}", f"Body {n}\n", f"<p>Body {n}</p>"),
                sender="webinars@cme.example.org",
                recipient=f"p{n}@example.org",
                domain="cme.example.org",
                now=now,
            )
            await enqueue(session, key=f"test:{n}", kind="test", message=message, now=now)
        await session.commit()
