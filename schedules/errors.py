"""One small exception per failure; the HTTP layer maps them to problem responses."""

from __future__ import annotations

from datetime import datetime


class ScheduleError(Exception):
    """Base of every error raised by the schedules package."""


class NotFoundError(ScheduleError, LookupError):
    """A record does not exist (or is not visible to the caller)."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key} does not exist")


class InvalidInputError(ScheduleError, ValueError):
    """Input that passed the syntax checks but cannot be scheduled; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class InvalidRuleError(InvalidInputError):
    """An RRULE that cannot be parsed, is not allowed, or expands absurdly."""

    def __init__(self, message: str) -> None:
        super().__init__("rrule", message)


class StartOffRuleError(InvalidInputError):
    """A recurring series' first start that its own rule does not give (a Tuesday start with
    ``BYDAY=MO``): RFC 5545 leaves such a DTSTART undefined and calendar engines disagree on it.
    ``first`` is the first start the rule gives from there (local time)."""

    def __init__(self, start: datetime, first: datetime) -> None:
        self.start = start
        self.first = first
        super().__init__(
            "start",
            f"{start:%A %Y-%m-%d %H:%M} is not a date of the rule (rrule); the first date the "
            f"rule gives from there is {first:%A %Y-%m-%d %H:%M}: start the series then, or "
            "change the rule",
        )


class UnknownTimezoneError(InvalidInputError):
    """A name that is not an IANA timezone known to this installation."""

    def __init__(self, name: str) -> None:
        super().__init__("timezone", f"unknown IANA timezone {name!r}")


class OccurrenceConflictError(ScheduleError):
    """The requested change contradicts the occurrence's current state."""

    def __init__(self, occurrence_id: int, message: str) -> None:
        self.occurrence_id = occurrence_id
        super().__init__(f"occurrence {occurrence_id}: {message}")


class UnshowableDateError(ScheduleError, ValueError):
    """A stored row holds a date no calendar can show (from before dates were checked)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} falls outside the dates a calendar can show")
