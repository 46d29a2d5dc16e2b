"""The series form's recurrence picker: its fields to an RRULE, and a stored RRULE back to them.

The organiser chooses "every week on Monday and Thursday" or "the second Tuesday of every
month, until June"; the server writes the RFC 5545 rule (the form works without JavaScript,
which only previews). A rule the picker cannot show stays editable as the raw, advanced field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tracker.domain.numerals import whole_number

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
REPEATS = ("none", "daily", "weekly", "monthly_day", "monthly_nth", "custom")
ENDS = ("never", "until", "count")
#: "first" to "fourth", and "last" (-1) weekday of the month.
POSITIONS = ("1", "2", "3", "4", "-1")
DAY_FIELD = "day:"
MAX_INTERVAL = 99
MAX_COUNT = 1000


class PickerError(ValueError):
    """A picker field that cannot make a rule: ``field`` is the form field, ``key`` the
    localised message's key in i18n."""

    def __init__(self, field: str, key: str) -> None:
        self.field = field
        self.key = key
        super().__init__(f"{field}: {key}")


@dataclass(frozen=True)
class _Whole:
    field: str
    key: str
    low: int
    high: int

    def read(self, text: str) -> int:
        value = whole_number(text, max_digits=9)
        if value is None or not self.low <= value <= self.high:
            raise PickerError(self.field, self.key)
        return value


_INTERVAL = _Whole("interval", "org.bad.interval", 1, MAX_INTERVAL)
_COUNT = _Whole("count", "org.bad.count", 1, MAX_COUNT)
_MONTHDAY = _Whole("monthday", "org.bad.monthday", 1, 31)


def _start_date(form: Mapping[str, str]) -> date | None:
    try:
        return datetime.fromisoformat(form.get("start", "")).date()
    except ValueError:
        return None


def rule_from_picker(form: Mapping[str, str]) -> str | None:
    """The RRULE the picker's fields describe (None: a single session). Without a ``repeat``
    field (an API-like post, an older page) or with ``repeat=custom``, the raw ``rrule`` field
    is the rule. Raises :class:`PickerError` naming the field at fault."""
    repeat = form.get("repeat")
    if repeat is None or repeat == "custom":
        return form.get("rrule", "").strip() or None
    if repeat not in REPEATS:
        raise PickerError("repeat", "org.bad.repeat")
    if repeat == "none":
        return None
    start = _start_date(form)
    parts: list[str] = []
    if repeat == "daily":
        parts.append("FREQ=DAILY")
    elif repeat == "weekly":
        days = [d for d in WEEKDAYS if form.get(f"{DAY_FIELD}{d}")]
        if not days and start is not None:
            days = [WEEKDAYS[start.weekday()]]
        if not days:
            raise PickerError("days", "org.bad.days")
        parts += ["FREQ=WEEKLY", f"BYDAY={','.join(days)}"]
    elif repeat == "monthly_day":
        text = form.get("monthday", "").strip()
        monthday = _MONTHDAY.read(text) if text else (start.day if start else None)
        if monthday is None:
            raise PickerError("monthday", "org.bad.monthday")
        parts += ["FREQ=MONTHLY", f"BYMONTHDAY={monthday}"]
    else:
        position, day = form.get("setpos", "1"), form.get("setday", "")
        if position not in POSITIONS:
            raise PickerError("setpos", "org.bad.setpos")
        if day not in WEEKDAYS:
            if start is None:
                raise PickerError("setday", "org.bad.setday")
            day = WEEKDAYS[start.weekday()]
        parts += ["FREQ=MONTHLY", f"BYDAY={position}{day}"]
    interval = _INTERVAL.read(form.get("interval", "") or "1")
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    ends = form.get("ends", "never")
    if ends == "until":
        try:
            until = date.fromisoformat(form.get("until", "").strip())
        except ValueError:
            raise PickerError("until", "org.bad.until") from None
        if start is not None and until < start:
            raise PickerError("until", "org.bad.until_before")
        parts.append(f"UNTIL={until:%Y%m%d}")
    elif ends == "count":
        parts.append(f"COUNT={_COUNT.read(form.get('count', ''))}")
    elif ends != "never":
        raise PickerError("ends", "org.bad.ends")
    return ";".join(parts)


def _parts(rule: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in rule.removeprefix("RRULE:").split(";"):
        name, _, value = item.partition("=")
        parts[name.strip().upper()] = value.strip().upper()
    return parts


def _until_date(value: str, timezone: str) -> str | None:
    """UNTIL as the local date the picker shows (a stored UNTIL is UTC: 20270630T215959Z)."""
    try:
        if "T" not in value:
            return date.fromisoformat(value).isoformat()
        moment = datetime.fromisoformat(value)  # 20270630T215959Z: aware; without Z: local
        if moment.tzinfo is not None:
            moment = moment.astimezone(ZoneInfo(timezone))
        return moment.date().isoformat()
    except (ValueError, KeyError):
        return None


def picker_values(rule: str | None, start: date | None, timezone: str) -> dict[str, Any]:
    """The picker's fields for a stored rule; a rule it cannot show is ``custom`` (raw)."""
    values: dict[str, Any] = {
        "repeat": "none",
        "interval": "1",
        "days": [WEEKDAYS[start.weekday()]] if start else [],
        "monthday": str(start.day) if start else "",
        "setpos": str(min((start.day - 1) // 7 + 1, 4)) if start else "1",
        "setday": WEEKDAYS[start.weekday()] if start else "MO",
        "ends": "never",
        "until": "",
        "count": "",
        "rrule": rule or "",
    }
    if not rule:
        return values
    parts = _parts(rule)
    known = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "UNTIL", "COUNT", "WKST"}
    frequency, byday = parts.get("FREQ"), parts.get("BYDAY", "")
    if set(parts) - known or parts.get("WKST", "MO") != "MO":
        return {**values, "repeat": "custom"}
    if "UNTIL" in parts:
        until = _until_date(parts["UNTIL"], timezone)
        if until is None:
            return {**values, "repeat": "custom"}
        values |= {"ends": "until", "until": until}
    elif "COUNT" in parts:
        values |= {"ends": "count", "count": parts["COUNT"]}
    values["interval"] = parts.get("INTERVAL", "1")
    days = byday.split(",") if byday else []
    if frequency == "DAILY" and not days and "BYMONTHDAY" not in parts:
        return {**values, "repeat": "daily"}
    if frequency == "WEEKLY" and "BYMONTHDAY" not in parts and all(d in WEEKDAYS for d in days):
        return {**values, "repeat": "weekly", "days": days or values["days"]}
    if frequency == "MONTHLY" and not days and parts.get("BYMONTHDAY", "").isdigit():
        return {**values, "repeat": "monthly_day", "monthday": parts["BYMONTHDAY"]}
    if frequency == "MONTHLY" and len(days) == 1 and "BYMONTHDAY" not in parts:
        position, day = days[0][:-2], days[0][-2:]
        if position.lstrip("+") in POSITIONS and day in WEEKDAYS:
            return {
                **values,
                "repeat": "monthly_nth",
                "setpos": position.lstrip("+"),
                "setday": day,
            }
    return {**values, "repeat": "custom"}


def picker_posted(form: Mapping[str, str]) -> dict[str, Any]:
    """What was posted, to show the picker again with an error."""
    return {
        "repeat": form.get("repeat", "custom"),
        "interval": form.get("interval", "1"),
        "days": [d for d in WEEKDAYS if form.get(f"{DAY_FIELD}{d}")],
        "monthday": form.get("monthday", ""),
        "setpos": form.get("setpos", "1"),
        "setday": form.get("setday", "MO"),
        "ends": form.get("ends", "never"),
        "until": form.get("until", ""),
        "count": form.get("count", ""),
        "rrule": form.get("rrule", ""),
    }
