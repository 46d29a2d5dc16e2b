"""Calendar documents read back by engines nobody here wrote: what a subscriber's calendar shows.

- ical.js (Thunderbird's and many web calendars' engine) and node-ical, run by Node through
  ``tests/js/expand.mjs``; ical.js reads the document's own VTIMEZONEs and nothing else;
- vobject, which reads the VTIMEZONEs through dateutil's ``tzical``;
- recurring_ical_events, which maps an IANA TZID to the system's zone data.

Each reader gives the instances it sees as :class:`Instance` rows in UTC. Outside CI a missing
Node or ``tests/js/node_modules`` (``npm ci --prefix tests/js``) skips the test with the reason;
under ``CI=true`` it fails.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import recurring_ical_events
import vobject
from icalendar import Calendar

JS_DIR = Path(__file__).parent / "js"
IN_CI = os.environ.get("CI", "").lower() == "true"
NODE_READERS = ("ical.js", "node-ical")
PYTHON_READERS = ("vobject", "recurring_ical_events")
READERS = NODE_READERS + PYTHON_READERS


@dataclass(frozen=True, order=True)
class Instance:
    """One instance as a reader shows it: the event's UID and its start and end in UTC."""

    start: datetime
    end: datetime
    uid: str
    status: str | None = None


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert isinstance(value, datetime) and value.tzinfo is not None, f"not a date-time: {value!r}"
    return value.astimezone(UTC)


def _node() -> str:
    """The Node executable, once the readers are installed; a skip (a failure in CI) if not."""
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "Node.js is not installed"
    elif not (JS_DIR / "node_modules" / "ical.js").is_dir():
        missing = "tests/js/node_modules is missing: run `npm ci --prefix tests/js`"
    if missing is not None:
        if IN_CI:
            pytest.fail(f"the calendar readers are required under CI=true: {missing}")
        pytest.skip(f"calendar readers not available: {missing}")
    assert node is not None
    return node


def read_with_node(body: bytes, *, start: datetime, end: datetime) -> dict[str, list[Instance]]:
    """The instances ical.js and node-ical show from ``start`` (included) to ``end``."""
    result = subprocess.run(
        [
            _node(),
            str(JS_DIR / "expand.mjs"),
            "--from",
            start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "--to",
            end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        ],
        input=body,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    found = json.loads(result.stdout)
    return {
        reader: [
            Instance(_utc(row["start"]), _utc(row["end"]), row["uid"], row["status"])
            for row in found[reader]
        ]
        for reader in NODE_READERS
    }


def read_with_vobject(body: bytes, *, start: datetime, end: datetime) -> list[Instance]:
    """vobject's view: DTSTART read with the document's VTIMEZONE, the rule set expanded by
    dateutil, overrides (RECURRENCE-ID) put in place of the instance they replace.

    vobject keeps, for the life of the process, the first VTIMEZONE it parsed for each TZID
    (``vobject.icalendar.__tzidMap``): it is emptied first, so that each document is read with
    its own VTIMEZONE, as a calendar reading only that document would.
    """
    known = vars(vobject.icalendar)["__tzidMap"]
    utc = known.get("UTC")
    known.clear()
    known["UTC"] = utc
    calendar = vobject.readOne(io.StringIO(body.decode("utf-8")))
    masters: dict[str, Any] = {}
    overrides: dict[str, dict[datetime, Any]] = {}
    for event in getattr(calendar, "vevent_list", []):
        uid = event.uid.value
        if hasattr(event, "recurrence_id"):
            overrides.setdefault(uid, {})[_utc(event.recurrence_id.value)] = event
        else:
            masters[uid] = event
    found: list[Instance] = []

    def keep(event: Any, uid: str, first: datetime) -> None:
        length = _utc(event.dtend.value) - _utc(event.dtstart.value)
        status = event.status.value if hasattr(event, "status") else None
        if start <= first < end:
            found.append(Instance(first, first + length, uid, status))

    for uid, event in masters.items():
        moved = overrides.pop(uid, {})
        rules = event.getrruleset(addRDate=True)
        if rules is None:
            keep(event, uid, _utc(event.dtstart.value))
            continue
        for instance in rules:
            instant = _utc(instance)
            if instant >= end and not any(rid >= instant for rid in moved):
                break
            if instant in moved:
                override = moved[instant]
                keep(override, uid, _utc(override.dtstart.value))
            else:
                keep(event, uid, instant)
    for uid, alone in overrides.items():  # an iTIP message carries one instance, no master
        for override in alone.values():
            keep(override, uid, _utc(override.dtstart.value))
    return sorted(found)


def read_with_recurring_ical_events(
    body: bytes, *, start: datetime, end: datetime
) -> list[Instance]:
    calendar = Calendar.from_ical(body)
    return sorted(
        Instance(
            _utc(event.start),
            _utc(event.end),
            str(event["UID"]),
            str(event["STATUS"]) if "STATUS" in event else None,
        )
        for event in recurring_ical_events.of(calendar).between(start, end)
        if start <= _utc(event.start) < end
    )


def read_with_every_reader(
    body: bytes, *, start: datetime, end: datetime
) -> dict[str, list[Instance]]:
    """The instances each of the four readers shows from ``start`` (included) to ``end``."""
    return {
        **read_with_node(body, start=start, end=end),
        "vobject": read_with_vobject(body, start=start, end=end),
        "recurring_ical_events": read_with_recurring_ical_events(body, start=start, end=end),
    }
