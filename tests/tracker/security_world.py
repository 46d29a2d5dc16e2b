"""A small world for the security tests: an organiser, physicians with every kind of credential
(bearer token, personal link, session cookie, unsubscribe link, certificate code) and one that
was revoked by rotation, all made through the real HTTP interface and the real jobs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from tests.factories import (
    bearer,
    create_physician,
    create_series,
    every_item,
    job_context,
    occurrences,
)
from tracker.db import Database
from tracker.domain.mailings import MailSettings, unsubscribe_url
from tracker.domain.models import Certificate, Registration
from tracker.jobs import plan_finalisations

BASE = "https://cme.example.org"
SESSION = "tracker_session"
LOGIN_COOKIE = "tracker_login"


@dataclass
class Physician:
    id: int
    token: str
    unsubscribe: str = ""
    cookie: str = ""  # "tracker_session=..."
    csrf: str = ""


@dataclass
class World:
    organizer_token: str
    organizer_cookie: str
    organizer_csrf: str
    series_id: int
    slug: str
    past_occurrence_id: int
    future_occurrence_id: int
    jeanne: Physician  # French, attended the past session, holds a certificate
    paul: Physician  # English, registered, attended nothing
    target: Physician  # the physician organiser routes act on
    revoked_token: str  # a physician token that was rotated away
    revoked_cookie: str  # a browser session opened with that token before the rotation
    certificate_code: str
    outbox_id: int
    unmatched_event_id: int
    requirement_id: int


def cookie_value(response: Any, name: str) -> str:
    """The value a ``Set-Cookie`` header of ``response`` gives ``name`` ("" if none)."""
    for header in response.headers.getall("Set-Cookie", []):
        match = re.match(rf"{re.escape(name)}=([^;]*)", header)
        if match:
            return match.group(1)
    return ""


def hidden_csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]*)"', html)
    return match.group(1) if match else ""


async def physician_session(client: TestClient, token: str) -> tuple[str, str]:
    """Open the personal link like a browser: the session cookie and the page's CSRF token."""
    response = await client.get(f"/me/{token}", allow_redirects=False)
    cookie = f"{SESSION}={cookie_value(response, SESSION)}"
    page = await client.get("/me", headers={"Cookie": cookie})
    return cookie, hidden_csrf(await page.text())


async def organizer_session(client: TestClient, token: str) -> tuple[str, str]:
    """Sign in on the login form like a browser: the session cookie and the CSRF of its forms."""
    form = await client.get("/organizer/login")
    login_cookie = cookie_value(form, LOGIN_COOKIE)
    response = await client.post(
        "/organizer/login",
        data={"token": token, "csrf": hidden_csrf(await form.text())},
        headers={"Cookie": f"{LOGIN_COOKIE}={login_cookie}", "Origin": BASE},
        allow_redirects=False,
    )
    cookie = f"{SESSION}={cookie_value(response, SESSION)}"
    page = await client.get("/organizer", headers={"Cookie": cookie})
    return cookie, hidden_csrf(await page.text())


async def build_world(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> World:
    start = (datetime.now(UTC) - timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
    series = await create_series(
        client,
        auth,
        timezone="UTC",
        start=start.strftime("%Y-%m-%dT%H:%M:%S"),
        rrule="FREQ=WEEKLY;COUNT=3",
        min_attendance_percent=None,
    )
    past, future, _ = await occurrences(client, auth, series["id"])
    jeanne = await create_physician(client, auth)
    paul = await create_physician(
        client, auth, first_name="Paul", last_name="Martin", email="paul@example.org", npi=None
    )
    paul_language = await client.patch(
        f"/api/physicians/{paul['id']}", json={"language": "en"}, headers=auth
    )
    assert paul_language.status == 200
    target = await create_physician(
        client, auth, first_name="Zoé", last_name="Roux", email="zoe@example.org", npi=None
    )
    revoked = await create_physician(
        client, auth, first_name="Old", last_name="Link", email="old@example.org", npi=None
    )
    for physician in (jeanne, paul, target):
        registered = await client.post(
            f"/api/series/{series['id']}/registrations",
            json={"physician_id": physician["id"]},
            headers=auth,
        )
        assert registered.status == 201
    requirement = await client.post(
        f"/api/physicians/{target['id']}/requirements",
        json={"type": "AMA_PRA_1", "required": 10, "from": "2026-01-01", "to": "2027-12-31"},
        headers=auth,
    )
    assert requirement.status == 200, await requirement.text()
    events = await client.post(
        "/api/attendance-events",
        json=[
            {
                "event_id": "j1",
                "occurrence_id": past["id"],
                "physician_id": jeanne["id"],
                "kind": "join",
                "at": start.isoformat(),
            },
            {
                "event_id": "j2",
                "occurrence_id": past["id"],
                "physician_id": jeanne["id"],
                "kind": "leave",
                "at": (start + timedelta(minutes=60)).isoformat(),
            },
            {
                "event_id": "u1",
                "occurrence_id": past["id"],
                "email": "stranger@example.org",
                "kind": "join",
                "at": start.isoformat(),
            },
        ],
        headers=auth,
    )
    assert events.status == 202, await events.text()
    await plan_finalisations(job_context(database, scheduler))
    mail = MailSettings(base_url=BASE, sender="webinars@cme.example.org", provider="CME")
    async with database.session() as session:
        links = {}
        for physician in (jeanne, paul):
            registration = (
                await session.exec(
                    select(Registration).where(
                        Registration.physician_id == physician["id"],
                        Registration.series_id == series["id"],
                    )
                )
            ).one()
            links[physician["id"]] = (await unsubscribe_url(session, mail, registration)).rsplit(
                "/", 1
            )[1]
        await session.commit()
        code = (
            await session.exec(
                select(Certificate.code).where(Certificate.physician_id == jeanne["id"])
            )
        ).one()
    outbox = await every_item(client, auth, "/api/outbox")
    unmatched = await every_item(client, auth, "/api/attendance-events/unmatched")
    requirements = (await requirement.json())["requirements"]

    revoked_cookie, _ = await physician_session(client, revoked["token"])
    rotated = await client.post(f"/api/physicians/{revoked['id']}/token", headers=auth)
    assert rotated.status == 200
    org_cookie, org_csrf = await organizer_session(client, auth["Authorization"].split()[1])
    people = {}
    for physician in (jeanne, paul, target):
        cookie, csrf = await physician_session(client, physician["token"])
        people[physician["id"]] = Physician(
            id=physician["id"],
            token=physician["token"],
            unsubscribe=links.get(physician["id"], ""),
            cookie=cookie,
            csrf=csrf,
        )
    return World(
        organizer_token=auth["Authorization"].split()[1],
        organizer_cookie=org_cookie,
        organizer_csrf=org_csrf,
        series_id=series["id"],
        slug=series["slug"],
        past_occurrence_id=past["id"],
        future_occurrence_id=future["id"],
        jeanne=people[jeanne["id"]],
        paul=people[paul["id"]],
        target=people[target["id"]],
        revoked_token=revoked["token"],
        revoked_cookie=revoked_cookie,
        certificate_code=code,
        outbox_id=max(row["id"] for row in outbox),
        unmatched_event_id=unmatched[0]["id"],
        requirement_id=requirements[0]["id"] if requirements else 0,
    )


async def certificate_codes(database: Database) -> list[str]:
    async with database.session() as session:
        return list(
            (await session.exec(select(Certificate.code).order_by(col(Certificate.id)))).all()
        )


__all__ = ["BASE", "World", "bearer", "build_world", "certificate_codes"]
