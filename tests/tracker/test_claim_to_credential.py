"""Issue 11 end to end, as a physician and a board see it, in French and in English: the
credits-are-final email's link, the claim with its evaluation, the certificate whose QR code
(read back by ZXing from the PDF) opens a page saying "valid", the credential an independent
JOSE library (PyJWT) accepts against the served did:web document; then a late change re-issues
the certificate, and the old code says "superseded" and is set in the status list."""

from __future__ import annotations

import base64
import gzip
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import jwt
import time_machine
from aiohttp.test_utils import TestClient

from tests.pdf_tools import qr_codes
from tests.smtp import SmtpServer
from tests.tracker.claims_world import FINAL, build_claim_world, deliver, finalise, link_in, to
from tracker.db import Database

AFTER = FINAL + timedelta(hours=1)
#: What a phone's browser sends when its camera app opens the QR code's URL.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _pdf(message: EmailMessage) -> bytes:
    (pdf,) = [
        part.get_content()
        for part in message.iter_attachments()
        if part.get_content_type() == "application/pdf"
    ]
    assert isinstance(pdf, bytes)
    return pdf


async def _issuer_key(client: TestClient) -> jwt.PyJWK:
    document = await (await client.get("/.well-known/did.json")).json()
    (method,) = document["verificationMethod"]
    return jwt.PyJWK(method["publicKeyJwk"], algorithm="EdDSA")


async def _credential(client: TestClient, token: str, occurrence_id: int) -> str:
    response = await client.get(
        f"/api/me/certificates/{occurrence_id}.json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 200, await response.text()
    envelope: dict[str, Any] = await response.json()
    return str(envelope["id"]).removeprefix("data:application/vc+jwt,")


async def _status_bit(client: TestClient, key: jwt.PyJWK, index: int) -> int:
    status_list = jwt.decode(
        await (await client.get("/credentials/status/1")).text(), key, ["EdDSA"]
    )
    encoded = status_list["credentialSubject"]["encodedList"][1:]
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return (bits[index // 8] >> (7 - index % 8)) & 1


async def test_a_claim_ends_in_a_certificate_a_board_can_check_and_a_reissue_revokes_it(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    world = await build_claim_world(client, auth)
    await finalise(database, scheduler)
    messages = await deliver(database, smtp_server, AFTER)
    people = (
        (world.jeanne, "jeanne.durand@example.org", "30", "Valide", "Remplacée"),
        (world.paul, "paul@example.org", "30", "Valid", "Replaced"),
    )
    scale, yes_no, text = world.question_ids
    key = await _issuer_key(client)
    first_codes: dict[str, str] = {}
    first_indexes: dict[str, int] = {}

    for physician, address, minutes, valid, _ in people:
        (final_email,) = to(messages, address)
        path, lang = link_in(final_email)
        with time_machine.travel(AFTER, tick=False):
            claimed = await client.post(
                path,
                data={
                    "minutes": minutes,
                    "attest": "yes",
                    f"q{scale}": "5",
                    f"q{yes_no}": "no",
                    f"q{text}": "Merci",
                    "lang": lang,
                },
            )
        assert claimed.status == 200, await claimed.text()
        received = await deliver(database, smtp_server, AFTER + timedelta(minutes=1))
        (certificate_email,) = [m for m in to(received, address) if m is not final_email]

        (url,) = qr_codes(_pdf(certificate_email))  # what a phone's camera reads
        code = urlsplit(url).path.removeprefix("/certificates/")
        first_codes[address] = code
        page = await client.get(
            urlsplit(url).path, headers={"Accept": BROWSER, "Accept-Language": lang}
        )
        assert page.status == 200 and page.content_type == "text/html"
        assert valid in await page.text()
        check = await client.get(urlsplit(url).path, headers={"Accept": "application/json"})
        assert (await check.json())["status"] == "valid"

        credential = jwt.decode(
            await _credential(client, physician["token"], world.occurrence_id), key, ["EdDSA"]
        )
        assert "OpenBadgeCredential" in credential["type"]
        assert credential["issuer"]["id"] == "did:web:cme.example.org"
        first_indexes[address] = int(credential["credentialStatus"]["statusListIndex"])
        assert await _status_bit(client, key, first_indexes[address]) == 0

    # A late fact for Paul re-issues his certificate (still the 30 minutes he claimed)
    late = [
        {
            "event_id": f"{kind}-late",
            "occurrence_id": world.occurrence_id,
            "physician_id": world.paul["id"],
            "kind": kind,
            "at": at,
            "connection_id": "phone",
        }
        for kind, at in (("join", "2026-12-01T12:15:00Z"), ("leave", "2026-12-01T12:25:00Z"))
    ]
    with time_machine.travel(AFTER + timedelta(minutes=5), tick=False):
        assert (await client.post("/api/attendance-events", json=late, headers=auth)).status == 202
    old = first_codes["paul@example.org"]
    check = await (
        await client.get(f"/certificates/{old}", headers={"Accept": "application/json"})
    ).json()
    assert check["status"] == "superseded"
    page = await client.get(
        f"/certificates/{old}", headers={"Accept": BROWSER, "Accept-Language": "en"}
    )
    assert "Replaced" in await page.text()
    new_credential = jwt.decode(
        await _credential(client, world.paul["token"], world.occurrence_id), key, ["EdDSA"]
    )
    new_index = int(new_credential["credentialStatus"]["statusListIndex"])
    assert new_index != first_indexes["paul@example.org"]
    assert await _status_bit(client, key, new_index) == 0
    assert await _status_bit(client, key, first_indexes["paul@example.org"]) == 1
    assert await _status_bit(client, key, first_indexes["jeanne.durand@example.org"]) == 0
    # Jeanne's certificate is untouched: still valid
    jeanne = await (
        await client.get(
            f"/certificates/{first_codes['jeanne.durand@example.org']}",
            headers={"Accept": "application/json"},
        )
    ).json()
    assert jeanne["status"] == "valid"
