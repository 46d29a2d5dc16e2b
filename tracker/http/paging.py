"""Pages of a list: ``?limit=`` and an opaque ``?cursor=`` in, ``items`` and ``next_cursor`` out.

A cursor is the sort key of a page's last (or first) row, written as URL-safe base64 of a JSON
array ``[list, direction, *key]``. It is opaque to clients (SPEC section 5) but not secret: a
client that forges a well-formed cursor only starts its page elsewhere in the same list. What
cannot be read as a cursor of *this* list (garbage, another list's cursor, a key of the wrong
types or out of the columns' range) is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field

from schedules.clock import iso_z
from schedules.schemas import OccurrencePublic, SeriesPublic
from tracker.domain.bounds import as_utc_or_none, is_row_id, parse_id
from tracker.domain.listing import MAX_SEARCH, Key, Page, PageRequest
from tracker.domain.schemas import (
    AttendanceEventPublic,
    AttendancePublic,
    OutboxMessagePublic,
    PhysicianPublic,
    RegistrationPublic,
    SelfRegistrationPublic,
)
from tracker.http.problems import HTTPProblem

#: The lists, by the name their cursors carry (a cursor of one list is refused by another).
PHYSICIANS, SERIES, OCCURRENCES, REGISTRATIONS = (
    "physicians",
    "series",
    "occurrences",
    "registrations",
)
ATTENDANCE, UNMATCHED, OUTBOX = "attendance", "unmatched", "outbox"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: A cursor longer than this is not one of ours (the longest key is two names and an id).
MAX_CURSOR = 1200
Direction = Literal["after", "before"]
#: The types of each list's sort key, in order: what a cursor of that list must hold.
KeyType = type[int] | type[str] | type[datetime]


def _bad_cursor(why: str) -> HTTPProblem:
    return HTTPProblem(
        400, f"query parameter 'cursor' is not a cursor of this list ({why}); start without it"
    )


def encode_cursor(name: str, direction: Direction, key: Key) -> str:
    values = [iso_z(v) if isinstance(v, datetime) else v for v in key]
    raw = json.dumps([name, direction[0], *values], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def _key_value(value: Any, kind: KeyType) -> Any:
    if kind is int:
        if type(value) is not int or not is_row_id(value):
            raise _bad_cursor("an id out of range")
        return value
    if kind is str:
        if not isinstance(value, str) or len(value) > MAX_SEARCH or "\x00" in value:
            raise _bad_cursor("a text key that no row can have")
        return value
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    utc = as_utc_or_none(parsed) if parsed is not None and parsed.tzinfo is not None else None
    if utc is None:
        raise _bad_cursor("an instant that cannot be read")
    return utc


def decode_cursor(text: str, name: str, types: tuple[KeyType, ...]) -> tuple[Direction, Key]:
    """The direction and key of a cursor of the list ``name``, or 400."""
    if len(text) > MAX_CURSOR:
        raise _bad_cursor("too long")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise _bad_cursor("not readable") from None
    if not isinstance(data, list) or len(data) != 2 + len(types):
        raise _bad_cursor("not a cursor")
    if data[0] != name:
        raise _bad_cursor("a cursor of another list")
    if data[1] not in ("a", "b"):
        raise _bad_cursor("no direction")
    direction: Direction = "after" if data[1] == "a" else "before"
    return direction, tuple(_key_value(v, t) for v, t in zip(data[2:], types, strict=True))


def page_request(request: web.Request, name: str, types: tuple[KeyType, ...]) -> PageRequest:
    """``?limit=`` (1 to 500, default 50 when absent) and ``?cursor=`` (empty: the first page),
    or 400. An empty ``limit=`` is refused like any other non-number: the document says integer."""
    text = request.query.get("limit")
    limit = DEFAULT_LIMIT
    if text is not None:
        value = parse_id(text)
        if value is None or value > MAX_LIMIT:
            raise HTTPProblem(
                400, f"query parameter 'limit' must be a whole number from 1 to {MAX_LIMIT}"
            )
        limit = value
    cursor = request.query.get("cursor", "")
    if cursor == "":
        return PageRequest(limit)
    direction, key = decode_cursor(cursor, name, types)
    return PageRequest(limit, key, backwards=direction == "before")


def query_text(request: web.Request, name: str) -> str | None:
    """A search text from the query (empty: absent), or 400 if no row could hold it."""
    value = request.query.get(name, "").strip()
    if not value:
        return None
    if "\x00" in value:
        raise HTTPProblem(400, f"query parameter {name!r}: NUL characters are not accepted")
    if len(value) > MAX_SEARCH:
        raise HTTPProblem(400, f"query parameter {name!r} is longer than {MAX_SEARCH} characters")
    return value


def query_id(request: web.Request, name: str) -> int | None:
    """A row id from the query (empty: absent), or 400."""
    value = request.query.get(name, "")
    if value == "":
        return None
    parsed = parse_id(value)
    if parsed is None:
        raise HTTPProblem(400, f"query parameter {name!r} must be a row id (1 to 2147483647)")
    return parsed


def cursors(name: str, page: Page[Any]) -> tuple[str | None, str | None]:
    """The cursors of the pages after and before ``page`` (``None`` where there is none)."""
    after = encode_cursor(name, "after", page.next_key) if page.next_key is not None else None
    before = (
        encode_cursor(name, "before", page.previous_key) if page.previous_key is not None else None
    )
    return after, before


T = TypeVar("T")
NEXT = "Give it as ?cursor= for the next page; null on the last page"
PREVIOUS = "Give it as ?cursor= for the page before this one; null on the first page"


class ListPage(BaseModel, Generic[T]):
    """One page of a list: at most ``limit`` items in the list's order."""

    items: list[T]
    next_cursor: str | None = Field(description=NEXT)
    previous_cursor: str | None = Field(description=PREVIOUS)


class PhysicianPage(ListPage[PhysicianPublic]):
    """Physicians in id order."""


class SeriesPage(ListPage[SeriesPublic]):
    """Series in id order."""


class OccurrencePage(ListPage[OccurrencePublic]):
    """Occurrences in start order."""


class RegistrationPage(ListPage[RegistrationPublic]):
    """Registrations in the order they were made."""


class AttendancePage(ListPage[AttendancePublic]):
    """Attendees by last name, first name, id."""


class UnmatchedPage(ListPage[AttendanceEventPublic]):
    """Unmatched events in the order they arrived."""


class OutboxPage(ListPage[OutboxMessagePublic]):
    """Outbox messages, newest first."""


P = TypeVar("P", bound=ListPage[Any])


def list_page(model: type[P], name: str, page: Page[Any], items: list[Any]) -> P:
    after, before = cursors(name, page)
    return model(items=items, next_cursor=after, previous_cursor=before)


# self-registration
SELF_REGISTRATIONS, WAITLIST = "self-registrations", "waitlist"


class SelfRegistrationPage(ListPage[SelfRegistrationPublic]):
    """Self-registration requests: waitlisted ones in line order, the others as made."""
