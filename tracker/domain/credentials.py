"""Each certificate as an Open Badges 3.0 ``OpenBadgeCredential`` (W3C Verifiable Credentials
Data Model 2.0), secured as a VC-JWT (VC-JOSE-COSE: the credential is the JWS payload, ``typ``
``vc+jwt``), signed with the provider's Ed25519 key (``EdDSA``, which every JOSE library
verifies), and the Bitstring Status List that revokes it.

Why a VC-JWT rather than a Data Integrity proof: its signature covers the exact bytes, so any
JOSE library verifies it without JSON-LD canonicalisation, remote contexts or a document
loader; Open Badges 3.0 accepts both.

The issuer is ``did:web`` of ``TRACKER_BASE_URL`` (``https://cme.example.org:8443/cme`` →
``did:web:cme.example.org%3A8443:cme``); its DID document (served at ``/.well-known/did.json``
and, for a base URL with a path, at ``{path}/did.json``) holds the public key as a JsonWebKey.

Revocation: certificate ``id`` *n* is bit ``n mod 131072`` of status list ``n div 131072 + 1``
(``/credentials/status/{list}``). Its bit is set when an organiser revoked it *or* a later
certificate superseded it: the credential of a superseded certificate no longer stands for
what the physician was awarded, so a verifier must not accept it; the replacement carries its
own credential.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import warnings
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import OKPKey
from sqlalchemy import exists
from sqlalchemy.orm import aliased
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.models import Occurrence, Series
from schedules.wording import CreditLabels, counted, quantity
from tracker.domain.bounds import MAX_ID
from tracker.domain.models import Certificate, Physician
from tracker.errors import CertificateRevokedError, CertificateWithdrawnError

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
DID_CONTEXT = "https://www.w3.org/ns/did/v1"
JWK_CONTEXT = "https://w3id.org/security/jwk/v1"
KEY_FRAGMENT = "#key-1"
ALGORITHM = "EdDSA"
#: The Bitstring Status List's minimum length (16 KiB of bits), and the size of each of ours.
LIST_SIZE = 131_072
#: Lists enough for every row id (ids end at 2**31 - 1); a higher number is no list.
LISTS = MAX_ID // LIST_SIZE + 1
MEDIA_TYPE = "application/vc+jwt"


def did_web(base_url: str) -> str:
    """``did:web`` of the base URL: the host (a port percent-encoded), then each path segment
    after a colon."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if parts.port is not None:
        host += quote(f":{parts.port}", safe="")
    segments = [quote(segment, safe="") for segment in parts.path.split("/") if segment]
    return ":".join(["did:web", host, *segments])


def did_document_path(base_url: str) -> str:
    """Where a ``did:web`` resolver fetches the document, as a path below the base URL's host:
    ``/.well-known/did.json``, or ``{path}/did.json`` when the base URL has a path."""
    path = urlsplit(base_url).path.rstrip("/")
    return f"{path}/did.json" if path else "/.well-known/did.json"


def public_jwk(key: Ed25519PrivateKey) -> dict[str, Any]:
    public = OKPKey.import_key(key.public_key()).as_dict(private=False)
    return {"kty": public["kty"], "crv": public["crv"], "x": public["x"]}


def did_document(base_url: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    did = did_web(base_url)
    method = did + KEY_FRAGMENT
    return {
        "@context": [DID_CONTEXT, JWK_CONTEXT],
        "id": did,
        "verificationMethod": [
            {
                "id": method,
                "type": "JsonWebKey",
                "controller": did,
                "publicKeyJwk": public_jwk(key),
            }
        ],
        "assertionMethod": [method],
        "authentication": [method],
    }


def sign(credential: dict[str, Any], key: Ed25519PrivateKey, base_url: str) -> str:
    """The credential as a compact JWS (``typ: vc+jwt``, ``cty: vc``), key id the DID's key."""
    header = {
        "alg": ALGORITHM,
        "typ": "vc+jwt",
        "cty": "vc",
        "kid": did_web(base_url) + KEY_FRAGMENT,
    }
    payload = json.dumps(credential, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with warnings.catch_warnings():
        # joserfc prefers RFC 9864's "Ed25519"; "EdDSA" is the name verifiers know today.
        warnings.simplefilter("ignore", SecurityWarning)
        return jws.serialize_compact(header, payload, OKPKey.import_key(key), [ALGORITHM])


def enveloped(token: str) -> dict[str, Any]:
    """VCDM 2.0's ``EnvelopedVerifiableCredential``: the VC-JWT carried in JSON."""
    return {
        "@context": [VC_CONTEXT],
        "id": f"data:{MEDIA_TYPE},{token}",
        "type": "EnvelopedVerifiableCredential",
    }


def status_position(certificate_id: int) -> tuple[int, int]:
    """(status list number, index in it) of a certificate."""
    return certificate_id // LIST_SIZE + 1, certificate_id % LIST_SIZE


def status_list_url(base_url: str, number: int) -> str:
    return f"{base_url}/credentials/status/{number}"


def _instant(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def identity_hash(email: str, salt: str) -> str:
    """Open Badges' hashed identifier: ``sha256$`` + hex SHA-256 of the address and the salt."""
    return "sha256$" + hashlib.sha256((email.strip().lower() + salt).encode("utf-8")).hexdigest()


def open_badge(
    certificate: Certificate,
    physician: Physician,
    occurrence: Occurrence,
    series: Series,
    *,
    base_url: str,
    provider: str,
    labels: CreditLabels,
) -> dict[str, Any]:
    """The unsigned ``OpenBadgeCredential`` of a certificate, worded in the physician's
    language. The physician is named in clear (as on the PDF) and by a salted hash of their
    address, which they can prove to a verifier without the credential publishing it."""
    language = "fr" if physician.language == "fr" else "en"
    credits = [
        quantity(value, labels.label(code, language), language)
        for code, value in sorted(certificate.credits.items())
    ]
    number, index = status_position(certificate.id or 0)
    listed = status_list_url(base_url, number)
    did = did_web(base_url)
    minutes = counted({"one": "{n} minute", "other": "{n} minutes"}, certificate.minutes, language)
    description = (
        f"Présence de {minutes} ; crédits : {', '.join(credits)}"
        if language == "fr"
        else f"Attended {minutes}; credits: {', '.join(credits)}"
    )
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [
            {
                "type": "IdentityObject",
                "identityType": "name",
                "hashed": False,
                "identityHash": certificate.holder(physician),
            },
            {
                "type": "IdentityObject",
                "identityType": "emailAddress",
                "hashed": True,
                "identityHash": identity_hash(physician.email, certificate.code),
                "salt": certificate.code,
            },
        ],
        "achievement": {
            "id": f"{base_url}/series/{series.slug}#occurrence-{occurrence.id}",
            "type": ["Achievement"],
            "name": series.title,
            "description": description,
            "criteria": {
                "narrative": (
                    "Participation à l’activité en direct (webinaire), crédits calculés "
                    "d’après les minutes de connexion."
                    if language == "fr"
                    else "Participation in the live activity (webinar), credit computed from "
                    "the minutes connected."
                )
            },
        },
        "activityStartDate": _instant(occurrence.start),
        "activityEndDate": _instant(occurrence.end),
    }
    if len(certificate.credits) == 1:
        (value,) = certificate.credits.values()
        subject["creditsEarned"] = value
    credential_id = f"{base_url}/certificates/{certificate.code}"
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": did, "type": ["Profile"], "name": provider, "url": base_url},
        "name": series.title,
        "description": description,
        "validFrom": _instant(certificate.issued_at),
        "credentialSubject": subject,
        "credentialStatus": {
            "id": f"{listed}#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(index),
            "statusListCredential": listed,
        },
        # JWT's registered claims, for JOSE verifiers that read them (VC-JOSE-COSE allows them
        # beside the credential's own properties, which they repeat)
        "iss": did,
        "jti": credential_id,
    }


async def certificate_for(
    session: AsyncSession, physician_id: int, occurrence_id: int
) -> tuple[Certificate, Physician, Occurrence, Series] | None:
    """The physician's latest certificate for that occurrence and what its credential names;
    raises ``CertificateRevokedError`` when an organiser revoked it, ``CertificateWithdrawnError``
    when it was withdrawn (the status list says so too, for a credential handed out before)."""
    certificate = (
        await session.exec(
            select(Certificate)
            .where(
                Certificate.physician_id == physician_id,
                Certificate.occurrence_id == occurrence_id,
            )
            .order_by(col(Certificate.version).desc())
        )
    ).first()
    if certificate is None:
        return None
    if certificate.revoked_at is not None:
        raise CertificateRevokedError(certificate.code)
    if certificate.withdrawn_at is not None:
        raise CertificateWithdrawnError(certificate.code)
    physician = await session.get_one(Physician, physician_id)
    occurrence = await session.get_one(Occurrence, occurrence_id)
    series = await session.get_one(Series, occurrence.series_id)
    return certificate, physician, occurrence, series


async def revoked_indexes(session: AsyncSession, number: int) -> list[int]:
    """Indexes of list ``number`` whose certificate is revoked, withdrawn or superseded."""
    newer = aliased(Certificate)
    first = (number - 1) * LIST_SIZE
    superseded = exists().where(
        col(newer.occurrence_id) == col(Certificate.occurrence_id),
        col(newer.physician_id) == col(Certificate.physician_id),
        col(newer.version) > col(Certificate.version),
    )
    ids = await session.exec(
        select(Certificate.id).where(
            col(Certificate.id) >= first,
            col(Certificate.id) <= min(first + LIST_SIZE - 1, MAX_ID),
            or_(
                col(Certificate.revoked_at).is_not(None),
                col(Certificate.withdrawn_at).is_not(None),
                superseded,
            ),
        )
    )
    return [(certificate_id or 0) - first for certificate_id in ids]


def encoded_list(indexes: Iterable[int]) -> str:
    """The Bitstring Status List's ``encodedList``: index 0 is the first byte's most
    significant bit; GZIP, then multibase base64url without padding (``u…``)."""
    bits = bytearray(LIST_SIZE // 8)
    for index in indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def status_list_credential(
    base_url: str, number: int, indexes: Iterable[int], now: datetime
) -> dict[str, Any]:
    listed = status_list_url(base_url, number)
    return {
        "@context": [VC_CONTEXT],
        "id": listed,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": did_web(base_url),
        "validFrom": _instant(now),
        "credentialSubject": {
            "id": f"{listed}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded_list(indexes),
        },
    }
