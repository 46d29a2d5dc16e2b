"""Every route of the service, in one table: the router and the OpenAPI document read it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel

from schedules.schemas import (
    OccurrencePublic,
    OccurrenceUpdate,
    SeriesCreate,
    SeriesCreated,
    SeriesPublic,
    SeriesUpdate,
)
from tracker.db import Database
from tracker.domain.bounds import MAX_ID
from tracker.domain.evaluations import EvaluationIn, EvaluationOut, SessionResultsOut
from tracker.domain.models import Organizer, Physician
from tracker.domain.schemas import (
    AttendanceBatch,
    AwardPublic,
    CertificateCheck,
    CreditSummary,
    EnvelopedCredential,
    IngestResult,
    OutboxMessagePublic,
    PhysicianCreateRequest,
    PhysicianPublic,
    PhysicianUpdate,
    PhysicianWithToken,
    RegistrationCreate,
    RegistrationPublic,
    RequirementCreate,
    SelfRegistrationAccepted,
    SelfRegistrationCreate,
    SignInLinkAccepted,
    SignInLinkRequest,
    TokenRotated,
)
from tracker.http.api import (
    attendance,
    credentials,
    evaluations,
    feeds,
    mail,
    physicians,
    registrations,
    self_registrations,
    series,
    sign_in,
    system,
)
from tracker.http.keys import DATABASE, ORGANIZER, PHYSICIAN, SETTINGS
from tracker.http.pages import claims as claim_pages
from tracker.http.pages import evaluations as evaluation_pages
from tracker.http.pages import (
    organiser,
    organiser_attendance,
    organiser_certificates,
    organiser_physicians,
    physician,
    public,
    receipts,
)
from tracker.http.pages import self_registration as self_registration_pages
from tracker.http.pages import sign_in as sign_in_pages
from tracker.http.pages import zoom as zoom_pages
from tracker.http.pages.errors import HTML_ERRORS
from tracker.http.paging import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AttendancePage,
    OccurrencePage,
    OutboxPage,
    PhysicianPage,
    RegistrationPage,
    SelfRegistrationPage,
    SeriesPage,
    UnmatchedPage,
)
from tracker.http.problems import HTTPProblem
from tracker.http.ratelimit import (
    LIMITER,
    SELF_REGISTRATION,
    SIGN_IN,
    FailureLimiter,
    requester,
)
from tracker.services import web_sessions

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Auth = Literal["none", "organizer", "physician", "zoom"]


@dataclass(frozen=True)
class QueryParam:
    """An optional query parameter; empty means absent. ``format`` "date-time" is an instant
    with an offset (400 otherwise), ``enum`` the only values accepted (400 otherwise)."""

    name: str
    description: str
    format: str | None = "date-time"
    enum: tuple[str, ...] = ()
    #: The whole JSON schema when it is neither a string format nor an enum (``?limit=``).
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class Route:
    """One route: the router serves it, the OpenAPI document describes it.

    ``responses`` lists answers beyond those every route of its kind gives (the document adds
    400/413/422 for bodies, 400 for queries, 401 for tokens, 404 for path ids, 503 when the
    database is out of reach): a second success, a redirect, a conflict.
    """

    method: str
    path: str
    handler: Handler
    summary: str
    auth: Auth = "organizer"
    body: type[BaseModel] | None = None
    response: Any = None  # a model, ``list[Model]``, or a media type string
    status: int = 200
    query: tuple[QueryParam, ...] = ()
    tags: tuple[str, ...] = field(default_factory=tuple)
    responses: dict[int, str] = field(default_factory=dict)
    database: bool = True  # reads the database, so 503 when it is out of reach
    page: bool = False  # a page for browsers: errors may be HTML
    #: A door taking a secret in the path or a form: its 401/404 answers count as failed
    #: credentials of the client (bearer-token routes count theirs in :func:`guarded`).
    door: str | None = None
    #: Other media types the same answer is served as, by content negotiation (a browser
    #: asking for HTML gets a page; its errors are pages too).
    also: tuple[str, ...] = ()


SEE_OTHER = "Done; see the page in Location"
TO_SIGN_IN = "Not signed in: to /organizer/login"
FORGED = "The form is stale or forged (CSRF check failed)"
NOT_SIGNED_IN = "Not signed in (no physician session)"


def _page(
    method: str,
    path: str,
    handler: Handler,
    summary: str,
    *,
    status: int = 200,
    response: str | None = "text/html",
    responses: dict[int, str] | None = None,
    database: bool = True,
) -> Route:
    return Route(
        method,
        path,
        handler,
        summary,
        auth="none",
        response=response if status < 300 else None,
        status=status,
        tags=("pages",),
        responses=responses or {},
        database=database,
        page=True,
        door=PAGE_DOORS.get((method, path)),
    )


WINDOW = (
    QueryParam(
        "from",
        "Only occurrences ending after this instant (ISO 8601, with offset), or this UTC day",
    ),
    QueryParam(
        "to",
        "Only occurrences starting before this instant (ISO 8601, with offset), or by the end "
        "of this UTC day",
    ),
)
SESSIONS = (
    QueryParam(
        "from",
        "Only sessions starting at or after this instant (ISO 8601, with offset), or this UTC day",
    ),
    QueryParam(
        "to",
        "Only sessions starting before this instant (ISO 8601, with offset), or by the end of "
        "this UTC day",
    ),
)

#: A row id in the query (``?physician_id=``): 1 to 2,147,483,647, or empty (absent).
ROW_ID_QUERY = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        {"type": "string", "maxLength": 0},
    ]
}

PAGING = (
    QueryParam(
        "limit",
        f"How many items per page (1 to {MAX_LIMIT}, default {DEFAULT_LIMIT})",
        schema={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
    QueryParam(
        "cursor",
        "Opaque: a page's next_cursor (or previous_cursor); absent for the first page",
        None,
    ),
)
SEARCH = QueryParam(
    "q",
    "Words that must each be part of a first or last name, the email or an identifier "
    "(NPI, RPPS, board id); any case, accents folded",
    None,
)

PAGE_DOORS = {
    ("GET", "/me/{token}"): "personal link",
    ("GET", "/me/sign-in/{code}"): "sign-in link",
    ("POST", "/me/sign-in/{code}"): "sign-in link",
    ("POST", "/organizer/login"): "organiser sign-in",
    # self-registration
    ("GET", "/registration/{code}"): "registration link",
    ("POST", "/registration/{code}"): "registration link",
    # claims (issue 11)
    ("GET", "/claims/{code}"): "claim link",
    ("POST", "/claims/{code}"): "claim link",
}

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/healthz",
        system.healthz,
        "Liveness and database check",
        auth="none",
        tags=("system",),
    ),
    Route(
        "GET",
        "/openapi.json",
        system.openapi,
        "This document",
        auth="none",
        tags=("system",),
        database=False,
    ),
    Route(
        "POST",
        "/api/series",
        series.create_series,
        "Create a series",
        body=SeriesCreate,
        response=SeriesCreated,
        status=201,
        tags=("series",),
    ),
    Route(
        "GET",
        "/api/series",
        series.list_series,
        "List series, a page at a time",
        response=SeriesPage,
        query=PAGING,
        tags=("series",),
    ),
    Route(
        "GET",
        "/api/series/{id}",
        series.get_series,
        "Read a series",
        response=SeriesPublic,
        tags=("series",),
    ),
    Route(
        "PATCH",
        "/api/series/{id}",
        series.update_series,
        "Edit a series",
        body=SeriesUpdate,
        response=SeriesPublic,
        tags=("series",),
        responses={409: "The edit would remove occurrences that hold attendance"},
    ),
    Route(
        "GET",
        "/api/series/{id}/occurrences",
        series.list_occurrences,
        "List a series' occurrences in a window, in start order, a page at a time",
        response=OccurrencePage,
        query=(*WINDOW, *PAGING),
        tags=("series",),
    ),
    Route(
        "PATCH",
        "/api/occurrences/{id}",
        series.update_occurrence,
        "Cancel, restore or move one occurrence",
        body=OccurrenceUpdate,
        response=OccurrencePublic,
        tags=("series",),
        responses={
            409: "Refused: the occurrence's credits are final (cancel or move would void them), "
            "or it is cancelled (restore it before moving it)"
        },
    ),
    Route(
        "GET",
        "/api/occurrences/{id}/attendance",
        attendance.occurrence_attendance,
        "Who attended one occurrence: minutes, credits, provisional or final; by name, "
        "a page at a time",
        response=AttendancePage,
        query=(
            *PAGING,
            SEARCH,
            QueryParam("physician_id", "Only this physician", None, schema=ROW_ID_QUERY),
        ),
        tags=("attendance",),
    ),
    Route(
        "POST",
        "/api/physicians",
        physicians.create_physician,
        "Create a physician (the token is shown once) and email them a welcome "
        '(unless "send_welcome": false)',
        body=PhysicianCreateRequest,
        response=PhysicianWithToken,
        status=201,
        responses={409: "Another physician holds this NPI or RPPS number"},
        tags=("physicians",),
    ),
    Route(
        "GET",
        "/api/physicians",
        physicians.list_physicians,
        "List physicians in id order, a page at a time (?q= to search, ?email= to find one)",
        response=PhysicianPage,
        query=(
            *PAGING,
            SEARCH,
            QueryParam("email", "Exact email, any case (anything else matches no one)", None),
        ),
        tags=("physicians",),
    ),
    Route(
        "GET",
        "/api/physicians/{id}",
        physicians.get_physician,
        "Read a physician",
        response=PhysicianPublic,
        tags=("physicians",),
    ),
    Route(
        "PATCH",
        "/api/physicians/{id}",
        physicians.update_physician,
        "Edit a physician",
        body=PhysicianUpdate,
        response=PhysicianPublic,
        responses={409: "Another physician holds this NPI or RPPS number"},
        tags=("physicians",),
    ),
    Route(
        "POST",
        "/api/physicians/{id}/token",
        physicians.rotate_token,
        "Rotate a physician's token (old feed URL stops working)",
        response=TokenRotated,
        tags=("physicians",),
    ),
    Route(
        "GET",
        "/api/physicians/{id}/credits",
        physicians.physician_credits,
        "A physician's credit summary",
        response=CreditSummary,
        tags=("credits",),
    ),
    Route(
        "POST",
        "/api/physicians/{id}/requirements",
        physicians.add_requirement,
        "Add a credit requirement; answers the updated summary",
        body=RequirementCreate,
        response=CreditSummary,
        tags=("credits",),
    ),
    Route(
        "DELETE",
        "/api/physicians/{id}/requirements/{requirement_id}",
        physicians.delete_requirement,
        "Remove a credit requirement",
        status=204,
        tags=("credits",),
    ),
    Route(
        "POST",
        "/api/series/{id}/registrations",
        registrations.register,
        "Register a physician (by id or email) to a series, bound by its capacity unless "
        '"over_capacity": true',
        body=RegistrationCreate,
        response=RegistrationPublic,
        status=201,
        tags=("registrations",),
        responses={
            200: "Already registered: the existing registration, unchanged",
            202: "The series is full: the physician is on its waitlist (or already was), "
            'and gets the next free seat in line order; the body is {"series_id", '
            '"physician_id", "status": "waitlisted", "position"} (1: next). Send '
            '"over_capacity": true to give a seat past the capacity instead',
        },
    ),
    Route(
        "GET",
        "/api/series/{id}/registrations",
        registrations.list_registrations,
        "List a series' registrations, a page at a time",
        response=RegistrationPage,
        query=PAGING,
        tags=("registrations",),
    ),
    Route(
        "DELETE",
        "/api/series/{id}/registrations/{physician_id}",
        registrations.unregister,
        "Unregister a physician",
        status=204,
        tags=("registrations",),
    ),
    Route(
        "POST",
        "/api/attendance-events",
        attendance.post_events,
        "Record a batch of join/leave events (idempotent by event_id)",
        body=AttendanceBatch,
        response=IngestResult,
        status=202,
        responses={
            409: "Some events reuse an event_id already stored with another kind, time, person "
            "or session: those were not stored (listed in errors), the others were"
        },
        tags=("attendance",),
    ),
    Route(
        "GET",
        "/api/attendance-events/unmatched",
        attendance.list_unmatched,
        "Events not yet matched to a physician or occurrence, with the reason, a page at a time",
        response=UnmatchedPage,
        query=(
            *PAGING,
            QueryParam("q", "Words that must each be part of the event's email address", None),
        ),
        tags=("attendance",),
    ),
    Route(
        "GET",
        "/api/exports/completions.csv",
        attendance.export_completions,
        "Learner completions for board reporting (final credits, consenting physicians): "
        "CSV in UTF-8 with a byte-order mark, one row per learner, session and board",
        response="text/csv",
        query=SESSIONS,
        tags=("credits",),
    ),
    Route(
        "GET",
        "/api/exports/completions.txt",
        attendance.export_completions_tab,
        "The same completions, tab-delimited (the ACCME PARS batch-upload layout), UTF-8",
        response="text/tab-separated-values",
        query=SESSIONS,
        tags=("credits",),
    ),
    Route(
        "GET",
        "/api/me",
        physicians.me,
        "The token's owner",
        auth="physician",
        response=PhysicianPublic,
        tags=("me",),
    ),
    Route(
        "GET",
        "/api/me/credits",
        physicians.my_credits,
        "My credit summary",
        auth="physician",
        response=CreditSummary,
        tags=("me",),
    ),
    Route(
        "GET",
        "/api/me/awards/{occurrence_id}",
        physicians.my_award,
        "One of my sessions: minutes and credits (another physician's: 404)",
        auth="physician",
        response=AwardPublic,
        tags=("me",),
    ),
    Route(
        "POST",
        "/api/me/token",
        physicians.rotate_my_token,
        "Rotate my token",
        auth="physician",
        response=TokenRotated,
        tags=("me",),
    ),
    Route(
        "POST",
        "/webhooks/zoom",
        attendance.zoom_webhook,
        "Zoom webinar and meeting events",
        auth="zoom",
        tags=("attendance",),
    ),
    Route(
        "GET",
        "/api/outbox",
        mail.list_outbox,
        "Outbox messages, newest first, a page at a time (?status=failed, ?kind=certificate)",
        response=OutboxPage,
        query=(
            *PAGING,
            QueryParam(
                "status",
                "Only messages in this state",
                None,
                ("pending", "sending", "sent", "failed", "skipped"),
            ),
            QueryParam("kind", "Only messages of this kind (reminder, certificate, ...)", None),
        ),
        tags=("email",),
    ),
    Route(
        "POST",
        "/api/outbox/{id}/retry",
        mail.retry_message,
        "Send a failed message again",
        response=OutboxMessagePublic,
        tags=("email",),
    ),
    Route(
        "GET",
        "/api/me/certificates/{occurrence_id}.pdf",
        mail.my_certificate,
        "My certificate for a session (PDF)",
        auth="physician",
        response="application/pdf",
        tags=("me",),
    ),
    Route(
        "GET",
        "/certificates/{code}",
        mail.verify_certificate,
        "Check a certificate by its code",
        auth="none",
        response=CertificateCheck,
        tags=("email",),
        door="certificate code",
        also=("text/html",),
    ),
    # verifiable certificates (issue 11, points 4 and 5)
    Route(
        "GET",
        "/api/me/certificates/{occurrence_id}.json",
        credentials.my_credential,
        "My certificate for a session as an Open Badges 3.0 credential (VC-JWT, Ed25519), "
        "enveloped in JSON; the bare VC-JWT for Accept: application/vc+jwt",
        auth="physician",
        response=EnvelopedCredential,
        tags=("me",),
        also=("application/vc+jwt",),
    ),
    Route(
        "POST",
        "/api/certificates/{code}/revocation",
        credentials.revoke_certificate,
        "Revoke a certificate: its page says so and its credential's status bit is set",
        response=CertificateCheck,
        tags=("email",),
    ),
    Route(
        "GET",
        "/.well-known/did.json",
        credentials.did_document,
        "The issuer's did:web document (its Ed25519 public key)",
        auth="none",
        response="application/did+json",
        tags=("credentials",),
    ),
    Route(
        "GET",
        "/did.json",
        credentials.did_document_by_path,
        "The same DID document, where did:web looks for it when TRACKER_BASE_URL has a path "
        "(the proxy strips the path)",
        auth="none",
        response="application/did+json",
        tags=("credentials",),
    ),
    Route(
        "GET",
        "/credentials/status/{number}",
        credentials.status_list,
        "A Bitstring Status List credential (VC-JWT): revoked and superseded certificates",
        auth="none",
        response="application/vc+jwt",
        tags=("credentials",),
    ),
    # (issue 11, point 5) the credential from the physician's page
    _page(
        "GET",
        "/me/certificates/{occurrence_id}.json",
        physician.me_credential,
        "Certificate as a signed Open Badges 3.0 credential, to download (signed in)",
        response="application/json",
        responses={401: NOT_SIGNED_IN},
    ),
    Route(
        "GET",
        "/unsubscribe/{token}",
        mail.unsubscribe_page,
        "Confirm page for stopping reminders",
        auth="none",
        response="text/html",
        tags=("email",),
        page=True,
        door="unsubscribe link",
    ),
    Route(
        "POST",
        "/unsubscribe/{token}",
        mail.unsubscribe,
        "One-click unsubscribe (RFC 8058)",
        auth="none",
        response="text/html",
        tags=("email",),
        page=True,
        door="unsubscribe link",
    ),
    Route(
        "GET",
        "/calendar.ics",
        feeds.calendar_feed,
        "Feed of every public series",
        auth="none",
        response="text/calendar",
        tags=("feeds",),
    ),
    Route(
        "GET",
        "/series/{slug}.ics",
        feeds.series_feed,
        "Feed of one public series",
        auth="none",
        response="text/calendar",
        tags=("feeds",),
    ),
    Route(
        "GET",
        "/feeds/{token}.ics",
        feeds.personal_feed,
        "A physician's personal feed (the token is the key)",
        auth="none",
        response="text/calendar",
        tags=("feeds",),
        door="personal feed",
    ),
    # physician page and public home (issue 10, points 4 and 5): one session as a .ics file
    Route(
        "GET",
        "/occurrences/{id}.ics",
        feeds.occurrence_file,
        "One session of a public series, as a .ics file to add to a calendar",
        auth="none",
        response="text/calendar",
        tags=("feeds",),
    ),
    _page(
        "GET",
        "/me/occurrences/{occurrence_id}.ics",
        physician.me_occurrence_file,
        "One session of a series I am registered to, as a .ics file (signed in)",
        response="text/calendar",
        responses={401: NOT_SIGNED_IN},
    ),
    _page("GET", "/", public.home, "Public home: upcoming sessions and subscribe links"),
    _page(
        "GET",
        "/static/{name}",
        public.static_file,
        "Static files of the pages",
        response="text/javascript",
        database=False,
    ),
    _page(
        "GET",
        "/me/{token}",
        physician.physician_sign_in,
        "Personal link: signs the physician in, then /me",
        status=303,
        responses={404: "Unknown or revoked personal link"},
    ),
    _page("GET", "/me", physician.me, "The physician's page", responses={401: NOT_SIGNED_IN}),
    _page(
        "GET",
        "/me/certificates/{occurrence_id}.pdf",
        physician.me_certificate,
        "Certificate download (signed in)",
        response="application/pdf",
        responses={401: NOT_SIGNED_IN},
    ),
    _page(
        "POST",
        "/me/preferences",
        physician.me_preferences,
        "Email preferences",
        status=303,
        responses={401: NOT_SIGNED_IN, 403: FORGED},
    ),
    _page(
        "POST",
        "/me/token",
        physician.me_token,
        "Rotate the personal token",
        responses={401: NOT_SIGNED_IN, 403: FORGED},
    ),
    _page(
        "POST",
        "/me/signout",
        physician.me_sign_out,
        "Sign out",
        status=303,
        responses={401: NOT_SIGNED_IN, 403: FORGED},
    ),
    _page(
        "GET",
        "/organizer/login",
        organiser.organizer_login_page,
        "Organiser sign-in",
        database=False,
    ),
    _page(
        "POST",
        "/organizer/login",
        organiser.organizer_login,
        "Organiser sign-in",
        status=303,
        responses={
            401: "Unknown or revoked organiser token (the form again)",
            403: "Not posted from this site's sign-in form (login CSRF check failed)",
        },
    ),
    _page(
        "GET",
        "/organizer",
        organiser.organizer_home,
        "Series list and creation",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "POST",
        "/organizer/series",
        organiser.organizer_create_series,
        "Create a series",
        status=303,
        responses={403: FORGED, 422: "The form again, with the error"},
    ),
    _page(
        "GET",
        "/organizer/preview",
        organiser.organizer_preview,
        "Live preview of next occurrences (JSON)",
        response="application/json",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "GET",
        "/organizer/series/{id}",
        organiser.organizer_series,
        "Edit a series, its occurrences",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "POST",
        "/organizer/series/{id}",
        organiser.organizer_update_series,
        "Save a series",
        status=303,
        responses={403: FORGED, 422: "The form again, with the error"},
    ),
    _page(
        "POST",
        "/organizer/occurrences/{id}",
        organiser.organizer_occurrence_action,
        "Cancel (after a confirmation page), restore or move",
        status=303,
        responses={
            200: "The confirmation page of a cancel",
            403: FORGED,
            409: "Refused: the occurrence's credits are final, or it is cancelled",
            422: "The change is not valid",
        },
    ),
    _page(
        "GET",
        "/organizer/occurrences/{id}",
        organiser.organizer_occurrence,
        "Attendance table and chart",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "GET",
        "/organizer/physicians",
        organiser.organizer_physicians,
        "Physicians, a page at a time, with a search",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "GET",
        "/organizer/unmatched",
        organiser.organizer_unmatched,
        "Unmatched attendance events",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "POST",
        "/organizer/unmatched/{id}",
        organiser.organizer_match,
        "Match an event by hand",
        status=303,
        responses={403: FORGED, 422: "No physician with that email (the list again)"},
    ),
    _page(
        "GET",
        "/organizer/outbox",
        organiser.organizer_outbox,
        "The outbox",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "POST",
        "/organizer/outbox/{id}/retry",
        organiser.organizer_retry,
        "Retry a failed email",
        status=303,
        responses={403: FORGED},
    ),
    # issue 12: organiser console ----------------------------------------------------------
    _page(
        "POST",
        "/organizer/signout",
        organiser.organizer_sign_out,
        "Sign out of the organiser pages",
        status=303,
        responses={403: FORGED},
    ),
    _page(
        "POST",
        "/organizer/physicians",
        organiser_physicians.organizer_create_physician,
        "Add one physician",
        status=303,
        responses={403: FORGED, 422: "The list again, the form's errors next to their fields"},
    ),
    _page(
        "GET",
        "/organizer/physicians/{id}",
        organiser_physicians.organizer_physician,
        "One physician: series, awards, requirements, emails",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "POST",
        "/organizer/physicians/{id}",
        organiser_physicians.organizer_physician_action,
        "Email a physician a new welcome or a sign-in link",
        status=303,
        responses={403: FORGED},
    ),
    _page(
        "GET",
        "/organizer/certificates/{code}/revoke",
        organiser_certificates.organizer_revoke_page,
        "Ask before revoking a certificate (a reason may be given)",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "POST",
        "/organizer/certificates/{code}/revoke",
        organiser_certificates.organizer_revoke,
        "Revoke a certificate; back to its physician's page, which shows it revoked",
        status=303,
        responses={403: FORGED},
    ),
    _page(
        "GET",
        "/organizer/import",
        organiser_physicians.organizer_import_page,
        "Import physicians from a CSV file",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "POST",
        "/organizer/import",
        organiser_physicians.organizer_import,
        "Run a CSV import (multipart); the page shows its progress, then the report",
        responses={
            403: FORGED,
            413: "The file is too large",
            422: "No file, not UTF-8, or no header",
        },
    ),
    _page(
        "POST",
        "/organizer/series/{id}/registrations",
        organiser_physicians.organizer_register_list,
        "Register a pasted list of addresses, or a CSV's, to a series",
        responses={403: FORGED},
    ),
    _page(
        "GET",
        "/organizer/occurrences/{id}/attendance.csv",
        organiser_attendance.organizer_attendance_csv,
        "A session's attendance as CSV",
        response="text/csv",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "GET",
        "/organizer/exports",
        organiser_attendance.organizer_exports,
        "Exports: completions for a date range",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "GET",
        "/organizer/exports/completions.csv",
        organiser_attendance.organizer_export_completions_csv,
        "The completions export (CSV) for the page's dates",
        response="text/csv",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "GET",
        "/organizer/exports/completions.txt",
        organiser_attendance.organizer_export_completions_txt,
        "The completions export (PARS tab-delimited text) for the page's dates",
        response="text/tab-separated-values",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "POST",
        "/organizer/outbox/retry-failed",
        organiser.organizer_retry_failed,
        "Retry every failed email (of one kind)",
        status=303,
        responses={403: FORGED},
    ),
    _page(
        "POST",
        "/organizer/unmatched/group",
        organiser.organizer_unmatched_group,
        "Match a group of unmatched events (one person, one session) by hand, or dismiss it",
        status=303,
        responses={
            400: "The group is missing",
            403: FORGED,
            422: "No physician with that email (the list again)",
        },
    ),
    # issue 13: Zoom account (SPEC 8) --------------------------------------------------------
    _page(
        "GET",
        "/organizer/occurrences/{id}/zoom",
        zoom_pages.organizer_occurrence_zoom,
        "An occurrence's facts by source and its readings of Zoom's report",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "POST",
        "/organizer/occurrences/{id}/zoom",
        zoom_pages.organizer_reconcile,
        "Read Zoom's participant report of the occurrence again (behind the answer)",
        status=303,
        responses={403: FORGED},
    ),
    # self-registration (SPEC 6) ------------------------------------------------------------
    Route(
        "POST",
        "/api/series/{id}/self-registrations",
        self_registrations.self_register,
        "Ask to register to an open series (no auth): a confirmation link is emailed; the "
        "answer is the same whether the address is known or not",
        auth="none",
        body=SelfRegistrationCreate,
        response=SelfRegistrationAccepted,
        status=202,
        tags=("registrations",),
        responses={
            409: "The series takes no self-registration (registration closed or by invitation)",
            429: "Too many requests from this client; retry after Retry-After seconds",
        },
    ),
    Route(
        "GET",
        "/api/series/{id}/self-registrations",
        self_registrations.list_self_registrations,
        "Self-registration requests of a series (?status=pending, waitlisted in line order, "
        "registered, cancelled), a page at a time",
        response=SelfRegistrationPage,
        query=(
            *PAGING,
            QueryParam(
                "status",
                "Only requests in this state",
                None,
                ("pending", "waitlisted", "registered", "cancelled"),
            ),
        ),
        tags=("registrations",),
    ),
    _page(
        "GET",
        "/series/{slug}",
        self_registration_pages.public_series,
        "A public series: its sessions to come and, when open, the registration form",
        responses={404: "No public series has this slug"},
    ),
    _page(
        "POST",
        "/series/{slug}",
        self_registration_pages.public_register,
        "The registration form: the same page for every address (check your inbox)",
        responses={
            404: "No public series has this slug",
            409: "The series takes no self-registration (the page again)",
            422: "The form again, with the errors",
            429: "Too many requests from this client (the form again)",
        },
    ),
    _page(
        "GET",
        "/registration/{code}",
        self_registration_pages.confirm_page,
        "The emailed confirmation link: a page with the button that confirms",
        responses={404: "Unknown, used or expired link"},
    ),
    _page(
        "POST",
        "/registration/{code}",
        self_registration_pages.confirm,
        "Confirm: registered or waitlisted, and signed in on this browser",
        responses={404: "Unknown, used or expired link"},
    ),
    _page(
        "POST",
        "/me/registrations/{series_id}/unregister",
        self_registration_pages.me_unregister,
        "Unregister from a series (its seat goes to the first on the waitlist)",
        status=303,
        responses={401: NOT_SIGNED_IN, 403: FORGED},
    ),
    _page(
        "POST",
        "/me/waitlist/{series_id}/leave",
        self_registration_pages.me_leave_waitlist,
        "Leave a series' waitlist",
        status=303,
        responses={401: NOT_SIGNED_IN, 403: FORGED},
    ),
    # credit receipts (issue 11 point 7) ---------------------------------------------------
    _page(
        "GET",
        "/me/receipts/{occurrence_id}",
        receipts.me_receipt,
        "How my credits at one session were computed: intervals, clipping, rounding, sources",
        responses={401: NOT_SIGNED_IN, 404: "No award of mine at this session"},
    ),
    _page(
        "GET",
        "/organizer/occurrences/{id}/receipts/{physician_id}",
        receipts.organizer_receipt,
        "How one physician's credits at one session were computed",
        responses={303: TO_SIGN_IN, 404: "No award of this physician at this session"},
    ),
    # sign-in links by email (issue 10) ----------------------------------------------------
    Route(
        "POST",
        "/api/sign-in-links",
        sign_in.request_sign_in_link,
        "Email a one-time sign-in link (valid 30 minutes) to the physician holding this "
        "address; the same 202 whether the address is known or not",
        auth="none",
        body=SignInLinkRequest,
        response=SignInLinkAccepted,
        status=202,
        tags=("me",),
        responses={429: "Too many requests from this client; see Retry-After"},
        database=False,
    ),
    _page(
        "GET",
        "/sign-in",
        sign_in_pages.sign_in_form,
        "The form asking for a sign-in link by email",
        database=False,
    ),
    _page(
        "POST",
        "/sign-in",
        sign_in_pages.send_sign_in_link,
        "Ask for a sign-in link: the same message whether the address is known or not",
        responses={
            403: "Not posted from this site",
            422: "Not one valid address (the form again, with the error)",
            429: "Too many requests from this client",
        },
        database=False,
    ),
    _page(
        "GET",
        "/signed-out",
        sign_in_pages.signed_out,
        "Signed out, with the sign-in link form",
        database=False,
    ),
    _page(
        "GET",
        "/me/sign-in/{code}",
        sign_in_pages.sign_in_link_page,
        "A sign-in link from an email: a page whose button uses it (scanners do not press it)",
        responses={404: "Unknown, expired or used link (with the form to ask for a new one)"},
    ),
    _page(
        "POST",
        "/me/sign-in/{code}",
        sign_in_pages.sign_in_with_link,
        "Use a sign-in link once: opens a page session, then /me",
        status=303,
        responses={
            403: "Not posted from the link's page (login CSRF check failed)",
            404: "Unknown, expired or used link (with the form to ask for a new one)",
        },
    ),
    # claims and evaluations (issue 11, points 1-3) ----------------------------------------
    Route(
        "GET",
        "/api/series/{id}/evaluation",
        evaluations.get_evaluation,
        "A series' evaluation questions (fr/en), and whether its certificates wait for a claim",
        response=EvaluationOut,
        tags=("evaluations",),
    ),
    Route(
        "PUT",
        "/api/series/{id}/evaluation",
        evaluations.put_evaluation,
        "Replace a series' evaluation questions (the whole list, in order): a question sent "
        "with its id is kept (its answers too); one left out, or whose kind changes, is retired",
        body=EvaluationIn,
        response=EvaluationOut,
        tags=("evaluations",),
    ),
    Route(
        "GET",
        "/api/occurrences/{id}/evaluation",
        evaluations.get_results,
        "A session's evaluation results: claims made, and per question the answers' count, "
        "mean and spread (scale), yes and no, and the first free-text answers",
        response=SessionResultsOut,
        tags=("evaluations",),
    ),
    Route(
        "GET",
        "/api/occurrences/{id}/evaluation.csv",
        evaluations.export_results,
        "A session's evaluation answers as CSV (UTF-8 with a byte-order mark), one row per "
        "answer, responses numbered (not named); cells safe from spreadsheet formulas",
        response="text/csv",
        tags=("evaluations",),
    ),
    _page(
        "GET",
        "/claims/{code}",
        claim_pages.claim_page,
        "A claim link from the credits-are-final email: the claim form (opening it claims "
        "nothing; mail scanners open links)",
        responses={
            404: "Unknown link",
            410: "Claims for this session have closed",
        },
    ),
    _page(
        "POST",
        "/claims/{code}",
        claim_pages.submit_claim,
        "Claim (once): the attested minutes (at most those computed) and the evaluation's "
        "answers; the certificate is issued with the credit claimed and emailed",
        responses={
            404: "Unknown link",
            409: "Already claimed with this link (a page saying so)",
            410: "Claims for this session have closed",
            422: "The form again, with the errors next to their fields",
        },
    ),
    _page(
        "GET",
        "/organizer/series/{id}/evaluation",
        evaluation_pages.evaluation_page,
        "A series' claim settings and evaluation questions, editable",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "POST",
        "/organizer/series/{id}/evaluation",
        evaluation_pages.save_evaluation,
        "Save a series' evaluation questions",
        status=303,
        responses={403: FORGED, 422: "The form again, with the errors"},
    ),
    _page(
        "POST",
        "/organizer/series/{id}/claims",
        evaluation_pages.save_claim_settings,
        "Save whether a series' certificates wait for a claim, and its claim window",
        status=303,
        responses={403: FORGED, 422: "The form again, with the error"},
    ),
    _page(
        "GET",
        "/organizer/occurrences/{id}/evaluation",
        evaluation_pages.results_page,
        "A session's evaluation results",
        responses={303: TO_SIGN_IN},
    ),
    _page(
        "GET",
        "/organizer/occurrences/{id}/evaluation.csv",
        evaluation_pages.results_csv,
        "A session's evaluation answers as CSV (the API's export, for the signed-in organiser)",
        response="text/csv",
        responses={303: TO_SIGN_IN},
    ),
)


#: Paths the router must match more narrowly than their template says (self-registration: a
#: slug never holds a dot, so ``/series/{slug}`` never claims ``/series/x.ics``, not even in the
#: ``Allow`` header of a 405).
ROUTER_PATTERNS = {"/series/{slug}": r"/series/{slug:[^/.]+}"}


def _bearer(request: web.Request, who: str) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPProblem(
            401,
            f"send 'Authorization: Bearer <{who} token>'",
            headers={"WWW-Authenticate": 'Bearer realm="tracker"'},
        )
    return token.strip()


def _invalid_token(who: str) -> HTTPProblem:
    return HTTPProblem(
        401,
        f"unknown or revoked {who} token",
        headers={"WWW-Authenticate": 'Bearer realm="tracker", error="invalid_token"'},
    )


def _refuse_if_blocked(request: web.Request, door: str) -> None:
    """429 while this client has failed too often at this door (right credential or not)."""
    limiter = request.app[LIMITER]
    if not limiter:  # no client has failed lately: nobody to refuse (the common case, cheap)
        return
    wait = limiter.retry_after(door, requester(request))
    if wait is not None:
        raise HTTPProblem(
            429,
            f"too many failed attempts from your address; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def _count_failure(request: web.Request, door: str) -> None:
    request.app[LIMITER].failed(door, requester(request))


Subject = TypeVar("Subject", Organizer, Physician)


def _bearer_guard(
    handler: Handler,
    who: str,
    lookup: Callable[[Database, str], Awaitable[Subject | None]],
    key: web.RequestKey[Subject],
) -> Handler:
    door = f"{who} bearer token"

    async def bearer_handler(request: web.Request) -> web.StreamResponse:
        _refuse_if_blocked(request, door)
        token = _bearer(request, who)
        subject = await lookup(request.app[DATABASE], token)
        if subject is None:
            _count_failure(request, door)
            raise _invalid_token(who)
        request[key] = subject
        return await handler(request)

    return bearer_handler


def _counted(handler: Handler, door: str) -> Handler:
    """A door whose 401 and 404 answers mean a wrong secret: they count against the client."""

    async def door_handler(request: web.Request) -> web.StreamResponse:
        _refuse_if_blocked(request, door)
        try:
            response = await handler(request)
        except (HTTPProblem, web.HTTPException) as exc:
            if exc.status in FAILED_CREDENTIAL:
                _count_failure(request, door)
            raise
        if response.status in FAILED_CREDENTIAL:
            _count_failure(request, door)
        return response

    return door_handler


def _html_errors(handler: Handler) -> Handler:
    """A page route: its errors are pages too (see :mod:`tracker.http.pages.errors`)."""

    async def page_handler(request: web.Request) -> web.StreamResponse:
        request[HTML_ERRORS] = True
        return await handler(request)

    return page_handler


FAILED_CREDENTIAL = frozenset({401, 404})


def guarded(route: Route) -> Handler:
    """The route's handler behind its authentication check and its failed-credential limit
    (Zoom checks its own signature)."""
    handler = route.handler
    if route.auth == "organizer":
        handler = _bearer_guard(handler, "organiser", web_sessions.organizer_holding, ORGANIZER)
    elif route.auth == "physician":
        handler = _bearer_guard(handler, "physician", web_sessions.physician_holding, PHYSICIAN)
    if route.door is not None:
        handler = _counted(handler, route.door)
    if route.page:
        handler = _html_errors(handler)
    return handler


def setup_routes(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[LIMITER] = FailureLimiter(
        limit=settings.auth_failure_limit, window=settings.auth_failure_window_seconds
    )
    # the two unauthenticated doors that send an email: requests per client
    SELF_REGISTRATION.install(app)
    SIGN_IN.install(app)
    for route in ROUTES:
        path = ROUTER_PATTERNS.get(route.path, route.path)
        if route.method == "GET":  # and HEAD, as HTTP asks (calendar apps, link checkers)
            app.router.add_get(path, guarded(route), allow_head=True)
        else:
            app.router.add_route(route.method, path, guarded(route))
