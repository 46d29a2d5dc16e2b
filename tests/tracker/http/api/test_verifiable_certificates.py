"""Certificates anyone can verify (issue 11, points 4 and 5), through the real app.

The PDF is read back by poppler and its QR code by ZXing; the credential's VC-JWT is verified
with PyJWT (not joserfc, which signs it) against the public key of the DID document the app
serves, as a verifier resolving the ``did:web`` would; the status list is decoded as the
Bitstring Status List specification says (GZIP, first bit the most significant).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import re
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import select

from tests.credential_verifiers import verify_with_jose
from tests.factories import bearer
from tests.pdf_tools import pdftotext, qr_codes
from tests.tracker.security_world import BASE, World, build_world
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.credentials import LIST_SIZE, LISTS, did_document_path, did_web, status_position
from tracker.domain.models import Certificate
from tracker.domain.signing import pem_of, signing_key
from tracker.errors import ConfigError
from tracker.settings import Settings, load_settings

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}
#: 140 random bits: 28 base32 symbols in four groups of seven.
NEW_CODE = re.compile(r"[A-Z2-7]{7}(-[A-Z2-7]{7}){3}")


@pytest.fixture
async def world(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> World:
    return await build_world(client, auth, database, scheduler)


async def _supersede(database: Database, world: World) -> str:
    """A re-issued certificate for Jeanne (version 2), as a late change makes one."""
    async with database.session() as session:
        certificate = Certificate(
            code="NEWCODE-2222222-3333333-4444444",
            occurrence_id=world.past_occurrence_id,
            physician_id=world.jeanne.id,
            version=2,
            minutes=30,
            credits={"AMA_PRA_1": 0.5},
        )
        session.add(certificate)
        await session.commit()
    return certificate.code


async def _id_of(database: Database, code: str) -> int:
    async with database.session() as session:
        found = (await session.exec(select(Certificate.id).where(Certificate.code == code))).one()
    return found or 0


async def _did_key(client: TestClient) -> tuple[str, jwt.PyJWK]:
    """Resolve the issuer as a did:web resolver does: the document at the DID's path."""
    response = await client.get(did_document_path(BASE))
    assert (response.status, response.content_type) == (200, "application/did+json")
    document = await response.json()
    (method,) = document["verificationMethod"]
    assert document["assertionMethod"] == [method["id"]]
    return method["id"], jwt.PyJWK(method["publicKeyJwk"], algorithm="EdDSA")


def _verified(token: str, key: jwt.PyJWK) -> dict[str, Any]:
    """The payload of a VC-JWT, checked by PyJWT (raises on a bad signature)."""
    payload: dict[str, Any] = jwt.decode(token, key, algorithms=["EdDSA"])
    return payload


async def _credential(client: TestClient, world: World) -> str:
    response = await client.get(
        f"/api/me/certificates/{world.past_occurrence_id}.json", headers=bearer(world.jeanne.token)
    )
    assert (response.status, response.content_type) == (200, "application/json")
    envelope = await response.json()
    assert envelope["type"] == "EnvelopedVerifiableCredential"
    prefix = "data:application/vc+jwt,"
    assert envelope["id"].startswith(prefix)
    return str(envelope["id"][len(prefix) :])


async def _status_bits(client: TestClient, key: jwt.PyJWK, number: int = 1) -> bytes:
    response = await client.get(f"/credentials/status/{number}")
    assert (response.status, response.content_type) == (200, "application/vc+jwt")
    status_list = _verified(await response.text(), key)
    assert status_list["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert status_list["issuer"] == did_web(BASE)
    encoded = status_list["credentialSubject"]["encodedList"]
    assert encoded.startswith("u")
    return gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))


def _bit(bits: bytes, index: int) -> int:
    return (bits[index // 8] >> (7 - index % 8)) & 1


async def test_every_certificate_pdf_carries_the_verification_url_and_its_qr_code(
    client: TestClient, world: World
) -> None:
    response = await client.get(
        f"/api/me/certificates/{world.past_occurrence_id}.pdf", headers=bearer(world.jeanne.token)
    )
    pdf = await response.read()
    url = f"{BASE}/certificates/{world.certificate_code}"

    assert NEW_CODE.fullmatch(world.certificate_code)
    assert url in pdftotext(pdf)
    assert qr_codes(pdf) == [url]


async def test_the_page_and_the_json_say_valid_superseded_and_revoked(
    client: TestClient, world: World, database: Database, auth: dict[str, str]
) -> None:
    code = world.certificate_code
    valid = await (await client.get(f"/certificates/{code}", headers=JSON)).json()
    replacement = await _supersede(database, world)
    superseded = await (await client.get(f"/certificates/{code}", headers=JSON)).json()
    superseded_page = await (
        await client.get(f"/certificates/{code}", headers={**BROWSER, "Accept-Language": "en"})
    ).text()
    revoked = await client.post(f"/api/certificates/{replacement.lower()}/revocation", headers=auth)
    again = await client.post(f"/api/certificates/{replacement}/revocation", headers=auth)
    french = await client.get(
        f"/certificates/{replacement}", headers={**BROWSER, "Accept-Language": "fr-FR,fr;q=0.9"}
    )
    english = await client.get(f"/certificates/{replacement}?lang=en", headers=BROWSER)
    unknown = await client.post("/api/certificates/NOPE/revocation", headers=auth)

    assert (valid["status"], valid["valid"], valid["superseded_by"]) == ("valid", True, None)
    assert (superseded["status"], superseded["valid"]) == ("superseded", False)
    assert superseded["superseded_by"] == replacement
    assert "This certificate was replaced by a later one." in superseded_page
    assert f'href="/certificates/{replacement}"' in superseded_page
    assert revoked.status == 200
    assert ((await revoked.json())["status"], (await revoked.json())["valid"]) == (
        "revoked",
        False,
    )
    assert (await again.json())["revoked_at"] == (await revoked.json())["revoked_at"]
    assert "Cette attestation a été révoquée par son organisme le" in await french.text()
    assert 'lang="fr"' in await french.text()
    assert "This certificate was revoked by its provider on" in await english.text()
    assert unknown.status == 404


async def test_codes_of_the_older_format_still_verify(
    client: TestClient, world: World, database: Database
) -> None:
    async with database.session() as session:
        session.add(
            Certificate(
                code="ABCD-EF01-2345",
                occurrence_id=world.past_occurrence_id,
                physician_id=world.paul.id,
                minutes=60,
                credits={"AMA_PRA_1": 1.0},
            )
        )
        await session.commit()

    response = await client.get("/certificates/abcd-ef01-2345", headers=JSON)

    assert (response.status, (await response.json())["status"]) == (200, "valid")


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "text/html"),  # a scanner's view that sends no Accept
        ("*/*", "text/html"),  # or accepts anything: a person is reading
        ("text/html,*/*;q=0.8", "text/html"),
        ("application/json", "application/json"),
        ("application/json, text/html;q=0.5", "application/json"),
        ("text/html;q=0.5, application/json", "application/json"),
    ],
)
async def test_the_printed_url_answers_a_page_unless_json_is_asked_for_first(
    client: TestClient, world: World, accept: str | None, content_type: str
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    # aiohttp's client sends "Accept: */*" unless told otherwise
    response = await client.get(
        f"/certificates/{world.certificate_code}",
        headers=headers,
        skip_auto_headers=() if accept is not None else ("Accept",),
    )

    assert (response.status, response.content_type) == (200, content_type)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"auth_failure_limit": 3})


async def test_guessing_codes_is_limited_with_a_localised_answer(
    client: TestClient, world: World
) -> None:
    guesses = [(await client.get(f"/certificates/GUESS{n}", headers=JSON)).status for n in range(3)]
    right_but_blocked = await client.get(f"/certificates/{world.certificate_code}", headers=JSON)
    page = await client.get(
        f"/certificates/{world.certificate_code}", headers={**BROWSER, "Accept-Language": "fr"}
    )
    english = await client.get(f"/certificates/{world.certificate_code}?lang=en", headers=BROWSER)

    assert guesses == [404, 404, 404]
    assert (right_but_blocked.status, right_but_blocked.content_type) == (
        429,
        "application/problem+json",
    )
    assert int(right_but_blocked.headers["Retry-After"]) > 0
    assert (page.status, page.content_type) == (429, "text/html")
    assert "Trop de tentatives" in await page.text()
    assert "Too many failed attempts" in await english.text()


async def test_the_credential_is_an_open_badge_that_an_independent_verifier_accepts(
    client: TestClient, world: World
) -> None:
    token = await _credential(client, world)
    kid, key = await _did_key(client)
    credential = _verified(token, key)
    header = jwt.get_unverified_header(token)
    bare = await client.get(
        f"/api/me/certificates/{world.past_occurrence_id}.json",
        headers={**bearer(world.jeanne.token), "Accept": "application/vc+jwt"},
    )

    assert (header["alg"], header["typ"], header["kid"]) == ("EdDSA", "vc+jwt", kid)
    assert kid == "did:web:cme.example.org#key-1"
    assert credential["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["id"] == f"{BASE}/certificates/{world.certificate_code}"
    assert credential["issuer"]["id"] == "did:web:cme.example.org"
    assert (credential["iss"], credential["jti"]) == (did_web(BASE), credential["id"])
    subject = credential["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["achievement"]["type"] == ["Achievement"]
    assert subject["creditsEarned"] == 1.0
    assert "Présence de 60 minutes" in subject["achievement"]["description"]  # Jeanne: French
    assert {"identityType": "name", "identityHash": "Jeanne Durand"}.items() <= subject[
        "identifier"
    ][0].items()
    status = credential["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusListCredential"] == f"{BASE}/credentials/status/1"
    assert (bare.status, bare.content_type, await bare.text()) == (200, "application/vc+jwt", token)


async def test_a_tampered_credential_or_another_key_fails(client: TestClient, world: World) -> None:
    token = await _credential(client, world)
    _, key = await _did_key(client)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["credentialSubject"]["creditsEarned"] = 10.0
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    other = jwt.PyJWK.from_dict(
        json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(Ed25519PrivateKey.generate().public_key())),
        algorithm="EdDSA",
    )

    assert _verified(token, key)["credentialSubject"]["creditsEarned"] == 1.0
    with pytest.raises(jwt.InvalidSignatureError):
        _verified(f"{header}.{forged}.{signature}", key)
    with pytest.raises(jwt.InvalidSignatureError):
        _verified(token, other)


async def test_the_status_list_revokes_superseded_and_revoked_certificates(
    client: TestClient, world: World, database: Database, auth: dict[str, str]
) -> None:
    _, key = await _did_key(client)
    first = status_position(await _id_of(database, world.certificate_code))
    before = await _status_bits(client, key)
    replacement = await _supersede(database, world)
    second = status_position(await _id_of(database, replacement))
    after_reissue = await _status_bits(client, key)
    token = await _credential(client, world)  # the physician's credential is the latest one
    await client.post(f"/api/certificates/{replacement}/revocation", headers=auth)
    after_revocation = await _status_bits(client, key)
    refused = await client.get(  # revoked: no longer handed out, its status bit says why
        f"/api/me/certificates/{world.past_occurrence_id}.json", headers=bearer(world.jeanne.token)
    )

    assert (first[0], second[0]) == (1, 1)
    assert len(before) * 8 == LIST_SIZE
    assert (_bit(before, first[1]), _bit(after_reissue, first[1])) == (0, 1)
    assert (_bit(after_reissue, second[1]), _bit(after_revocation, second[1])) == (0, 1)
    assert sum(bin(byte).count("1") for byte in after_revocation) == 2
    assert _verified(token, key)["credentialStatus"]["statusListIndex"] == str(second[1])
    assert refused.status == 410
    assert (await client.get("/credentials/status/0")).status == 404
    assert (await client.get(f"/credentials/status/{LISTS}")).status == 200  # the last one
    assert (await client.get(f"/credentials/status/{LISTS + 1}")).status == 404


async def test_processes_starting_together_sign_with_one_key(settings: Settings) -> None:
    """Each "process" its own engine and pool, all asking for the key at once."""
    databases = [Database(settings.database_url) for _ in range(4)]

    async def first_start(database: Database) -> str:
        async with database.session() as session:
            key = await signing_key(session)
            await session.commit()
        return pem_of(key)

    try:
        keys = await asyncio.gather(*(first_start(database) for database in databases))
    finally:
        for database in databases:
            await database.close()

    assert len(set(keys)) == 1


async def test_a_key_file_signs_instead_of_the_database(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "signing.pem"
    path.write_text(pem_of(key))
    rsa = tmp_path / "other.pem"
    rsa.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"signing_key_file": path}))
    )

    document = await (await client.get("/.well-known/did.json")).json()

    assert document["verificationMethod"][0]["publicKeyJwk"] == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64.urlsafe_b64encode(key.public_key().public_bytes_raw()).decode().rstrip("="),
    }
    assert load_settings(_env_file=None, signing_key_file="").signing_key_file is None
    with pytest.raises(ConfigError, match="TRACKER_SIGNING_KEY_FILE"):
        load_settings(_env_file=None, signing_key_file=str(rsa))
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(_env_file=None, signing_key_file=str(tmp_path / "missing.pem"))


@pytest.mark.parametrize(
    ("base_url", "did", "path"),
    [
        ("https://cme.example.org", "did:web:cme.example.org", "/.well-known/did.json"),
        ("http://127.0.0.1:8080", "did:web:127.0.0.1%3A8080", "/.well-known/did.json"),
        (
            "https://Example.org:8443/cme/fmc",
            "did:web:example.org%3A8443:cme:fmc",
            "/cme/fmc/did.json",
        ),
    ],
)
def test_the_issuer_is_the_did_web_of_the_base_url(base_url: str, did: str, path: str) -> None:
    assert (did_web(base_url), did_document_path(base_url)) == (did, path)


async def test_the_physician_page_links_the_credential_to_download(
    client: TestClient, world: World
) -> None:
    me = await (await client.get("/me", headers={"Cookie": world.jeanne.cookie})).text()
    download = await client.get(
        f"/me/certificates/{world.past_occurrence_id}.json",
        headers={"Cookie": world.jeanne.cookie},
    )
    _, key = await _did_key(client)
    envelope = await download.json()

    assert f'href="/me/certificates/{world.past_occurrence_id}.json" download' in me
    assert "Justificatif numérique (Open Badges)" in me  # Jeanne reads French
    assert download.headers["Content-Disposition"].startswith("attachment;")
    token = envelope["id"].removeprefix("data:application/vc+jwt,")
    assert _verified(token, key)["id"] == f"{BASE}/certificates/{world.certificate_code}"


async def test_jose_in_node_verifies_the_credential_and_the_status_list_and_refuses_a_forgery(
    client: TestClient, world: World
) -> None:
    """A second verifier, in another language: panva's ``jose`` with the served DID document."""
    token = await _credential(client, world)
    document = await (await client.get("/.well-known/did.json")).json()
    status_list = await (await client.get("/credentials/status/1")).text()
    header, payload, signature = token.split(".")
    forged = payload[:-4] + ("AAAA" if not payload.endswith("AAAA") else "BBBB")

    accepted = verify_with_jose(token, document)
    listed = verify_with_jose(status_list, document)
    refused = verify_with_jose(f"{header}.{forged}.{signature}", document)

    assert accepted["verified"] is True
    assert accepted["payload"]["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert listed["verified"] is True
    assert listed["payload"]["credentialSubject"]["type"] == "BitstringStatusList"
    assert refused == {"verified": False, "error": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"}
