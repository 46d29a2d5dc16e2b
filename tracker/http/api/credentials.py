"""Verifiable credentials (issue 11, point 5): a physician's Open Badges credential, the
issuer's DID document, the status lists, and an organiser revoking a certificate."""

from __future__ import annotations

from aiohttp import web

from tracker.domain.bounds import parse_id
from tracker.domain.credentials import LISTS, MEDIA_TYPE, enveloped
from tracker.http.keys import SERVICES, physician_of
from tracker.http.pages.errors import quality
from tracker.http.parsing import json_response
from tracker.http.problems import HTTPProblem
from tracker.services import credentials as credential_service

#: Public documents a verifier fetches: cacheable a little, readable from any origin.
PUBLIC = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}


def _wants_jwt(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return quality(accept, MEDIA_TYPE) > quality(accept, "application/json")


async def my_credential(request: web.Request) -> web.Response:
    """The physician's latest certificate for an occurrence as an ``OpenBadgeCredential``:
    VCDM 2.0's ``EnvelopedVerifiableCredential`` holding the VC-JWT (JSON), or the bare VC-JWT
    for ``Accept: application/vc+jwt``."""
    raw = request.match_info["occurrence_id"]
    occurrence_id = parse_id(raw)
    token = (
        await credential_service.my_credential(
            request.app[SERVICES], physician_of(request), occurrence_id
        )
        if occurrence_id is not None
        else None
    )
    if token is None:
        raise HTTPProblem(404, f"you have no certificate for occurrence {raw}")
    private = {"Cache-Control": "private, no-store", "Vary": "Accept"}
    if _wants_jwt(request):
        return web.Response(text=token, content_type=MEDIA_TYPE, headers=private)
    response = json_response(enveloped(token))
    response.headers.update(private)
    return response


def credential_response(token: str, occurrence_id: int) -> web.Response:
    """The enveloped credential as a JSON file to download (the physician's page)."""
    response = json_response(enveloped(token))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="credential-{occurrence_id}.json"'
    )
    return response


async def did_document(request: web.Request) -> web.Response:
    """The issuer's ``did:web`` document: its Ed25519 public key."""
    document = await credential_service.did_document(request.app[SERVICES])
    response = json_response(document)
    response.content_type = "application/did+json"
    response.headers.update(PUBLIC)
    return response


async def status_list(request: web.Request) -> web.Response:
    """Bitstring Status List ``{number}`` as a VC-JWT (revoked and superseded certificates)."""
    number = parse_id(request.match_info["number"])
    if number is None or number > LISTS:
        raise HTTPProblem(404, f"no status list {request.match_info['number']!r}")
    token = await credential_service.status_list(request.app[SERVICES], number)
    return web.Response(text=token, content_type=MEDIA_TYPE, headers=PUBLIC)


async def revoke_certificate(request: web.Request) -> web.Response:
    """An organiser revokes a certificate: its page says so and its credential's status bit
    is set. Idempotent; the answer is the certificate's check."""
    code = request.match_info["code"].strip().upper()
    check = await credential_service.revoke_certificate(request.app[SERVICES], code)
    if check is None:
        raise HTTPProblem(404, f"no certificate with code {code}")
    return json_response(check)


async def did_document_by_path(request: web.Request) -> web.Response:
    """The DID document where ``did:web`` finds it for a base URL with a path (``/cme`` →
    ``/cme/did.json``, which the proxy forwards here without its prefix)."""
    return await did_document(request)
