"""The welcome email: queued when a physician is created (API) or imported (CLI), once per
token (``welcome:{physician}:{token generation}``), in the physician's language, with the
personal page, the feed and the subscribe links; ``send_welcome: false`` / ``--no-welcome``
queue none."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from notifications.models import OutboxMessage
from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from tests.factories import physician_body
from tests.smtp import SmtpServer
from tests.tracker.test_cli import run
from tracker.db import Database
from tracker.domain.models import Physician

DATA = Path(__file__).parents[2] / "data"
BASE = "https://cme.example.org"


async def welcome_keys(database: Database) -> list[str]:
    async with database.session() as session:
        query = select(OutboxMessage.key).where(OutboxMessage.kind == "welcome")
        return list((await session.exec(query.order_by(col(OutboxMessage.id)))).all())


async def test_a_created_physician_is_welcomed_in_their_language_with_working_links(
    client: TestClient, auth: dict[str, str], database: Database, smtp_server: SmtpServer
) -> None:
    created = await (
        await client.post("/api/physicians", json=physician_body(), headers=auth)
    ).json()
    english = await (
        await client.post(
            "/api/physicians",
            json=physician_body(email="paul@example.org", first_name="Paul", language="en"),
            headers=auth,
        )
    ).json()
    worker = DeliveryWorker(
        database.session, SmtpTransport(smtp_server.url), sender="w@localhost", rate_per_second=0
    )

    assert await worker.run_once() == 2
    french, other = smtp_server.recorder.messages
    text = french.get_body(("plain",)).get_content()
    html = french.get_body(("html",)).get_content()
    token = created["token"]
    page, feed = f"{BASE}/me/{token}", created["feed_url"]  # the read-only feed key's URL
    webcal = "webcal://" + feed.split("://", 1)[1]
    google = re.search(r"https://calendar\.google\.com/\S+", text)
    outlook = re.search(r"https://outlook\.live\.com/\S+", text)

    assert await welcome_keys(database) == [
        f"welcome:{created['id']}:1",
        f"welcome:{english['id']}:1",
    ]
    assert str(french["Subject"]) == (
        "Bienvenue aux webinaires de formation continue – Institut du Numérique en Santé"
    )
    assert str(other["Subject"]).startswith("Welcome to the CME webinars – ")
    assert str(french["To"]) == "Jeanne Durand <jeanne.durand@example.org>"
    assert sorted(french.keys()) == [
        "Content-Type",
        "Date",
        "From",
        "MIME-Version",
        "Message-ID",
        "Subject",
        "To",
    ]
    assert "Bonjour Jeanne Durand," in text
    assert feed.startswith(f"{BASE}/feeds/cal_")  # calendar services never get the token
    assert all(link in text for link in (page, feed, webcal))
    assert text.count(token) == 1 and html.count(token) == 1  # the page link alone
    # and the email says what the feed link opens, truthfully
    assert "a sa propre clé, qui n'ouvre que ce flux (ni votre page ni vos crédits)" in text
    assert "même secret" not in text + html
    assert all(f'href="{link}"' in html for link in (page, webcal))
    assert google is not None and outlook is not None
    assert unquote(parse_qs(urlsplit(google.group(0)).query)["cid"][0]) == webcal
    assert parse_qs(urlsplit(outlook.group(0)).query)["url"] == [feed]
    assert f'href="{BASE}/"' in html  # where to ask for a sign-in link
    opened = await client.get(urlsplit(page).path, allow_redirects=False)
    assert (opened.status, opened.headers["Location"]) == (303, "/me")
    calendar = await client.get(urlsplit(feed).path)
    assert (calendar.status, calendar.content_type) == (200, "text/calendar")


async def test_send_welcome_false_queues_none(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    response = await client.post(
        "/api/physicians", json=physician_body(send_welcome=False), headers=auth
    )

    assert response.status == 201
    assert await welcome_keys(database) == []


async def test_a_rotated_token_has_the_next_generation(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    created = await (
        await client.post("/api/physicians", json=physician_body(), headers=auth)
    ).json()

    await client.post(f"/api/physicians/{created['id']}/token", headers=auth)

    async with database.session() as session:
        physician = await session.get_one(Physician, created["id"])
    assert physician.token_generation == 2


async def test_import_welcomes_each_created_physician_once(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    env = {"TRACKER_DATABASE_URL": database_url}
    source = str(DATA / "physicians.csv")

    first = run(["import-physicians", source], cwd=tmp_path, **env)
    second = run(["import-physicians", source], cwd=tmp_path, **env)

    async with database.session() as session:
        ids = (await session.exec(select(Physician.id).order_by(col(Physician.id)))).all()
        languages = (await session.exec(select(OutboxMessage.subject))).all()
    assert first.returncode == 0, first.stderr
    assert "3 welcome emails queued" in first.stdout
    assert "welcome" not in second.stdout
    assert sorted(await welcome_keys(database)) == sorted(f"welcome:{i}:1" for i in ids)
    assert sum(subject.startswith("Bienvenue") for subject in languages) == 3


async def test_no_welcome_imports_without_emails(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    env = {"TRACKER_DATABASE_URL": database_url}

    result = run(
        ["import-physicians", str(DATA / "physicians.csv"), "--no-welcome"], cwd=tmp_path, **env
    )

    assert result.stdout.strip().splitlines()[-1].startswith("3 created")
    assert await welcome_keys(database) == []
