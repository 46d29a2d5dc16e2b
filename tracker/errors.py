"""Every failure tracker names, in one place: one small class per failure, subclassing the
nearest built-in (or the schedules error it refines), its message built in ``__init__``.

The HTTP layer maps them to problem responses (``tracker.http.problems``), the CLI to one-line
messages; the domain and the services raise them and know nothing of either.
"""

from __future__ import annotations

from schedules.errors import InvalidInputError, NotFoundError, OccurrenceConflictError

__all__ = [
    "AmbiguousDatesError",
    "CertificateRevokedError",
    "CertificateWithdrawnError",
    "ColumnsError",
    "ConfigError",
    "DuplicateIdentifiersError",
    "DuplicateRowError",
    "EmailTakenError",
    "FinalCreditsError",
    "IdentifierRowError",
    "IdentifierTakenError",
    "InvalidInputError",
    "InvalidOrganizerError",
    "NotFoundError",
    "OccurrenceConflictError",
    "RegistrationClosedError",
    "ReportFormatError",
    "RowError",
    "SchemaOutdatedError",
    "ZoomAPIError",
    "ZoomNotConfiguredError",
    "ZoomPayloadError",
    "ZoomSignatureError",
]


class InvalidOrganizerError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class FinalCreditsError(OccurrenceConflictError):
    """The change would cancel or move an occurrence whose credits are final (409)."""

    def __init__(self, occurrence_id: int) -> None:
        super().__init__(
            occurrence_id,
            "its credits are final and certificates may have been issued; cancelling or moving "
            "it would void them",
        )


class CertificateRevokedError(LookupError):
    """The session's certificate was revoked by an organiser: its PDF and credential are no
    longer handed out as if valid (410); its public check page says it is revoked."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(
            f"certificate {code} was revoked by its provider; it no longer attests to any credit"
        )


class CertificateWithdrawnError(CertificateRevokedError):
    """The session's certificate was withdrawn: the corrected award earns no credit
    (:mod:`tracker.domain.withdrawals`). Handed out no more (410), like a revoked one."""

    def __init__(self, code: str) -> None:
        self.code = code
        LookupError.__init__(
            self,
            f"certificate {code} was withdrawn: the corrected attendance earns no credit; "
            "it no longer attests to any credit",
        )


class EmailTakenError(InvalidInputError):
    def __init__(self, email: str) -> None:
        super().__init__("email", f"a physician with email {email} already exists")


#: How the pages and messages name each identifier that belongs to one physician only.
IDENTIFIER_LABELS = {"npi": "NPI", "rpps": "RPPS number"}


class IdentifierTakenError(InvalidInputError):
    """An NPI or RPPS number another physician holds: it identifies one person, and the board
    export would report this physician's completions under the other's identity (409). Names
    the holder by id only, which every organiser may see."""

    def __init__(self, field: str, holder: int) -> None:
        self.holder = holder
        label = IDENTIFIER_LABELS[field]
        super().__init__(
            field, f"physician {holder} has this {label} already; it identifies one person"
        )


class RowError(ValueError):
    """A refused row of an import: its line, why (in English, for the CLI and the API) and,
    when one value is at fault, its field (pages word the reason in their own language)."""

    def __init__(
        self, line: int, reason: str, field: str | None = None, kind: str | None = None
    ) -> None:
        self.line = line
        self.reason = reason
        self.field = field
        #: The validation's error type (``string_too_long``, ``name_letter``...), when known.
        self.kind = kind
        super().__init__(f"line {line}: {reason}")


class DuplicateRowError(RowError):
    """A row giving an email address an earlier row of the same file gave: two people sharing
    an address, or one person twice. Either way the later row is left out and named, so that
    nobody's name and welcome email go silently to someone else."""

    def __init__(self, line: int, first: int, email: str) -> None:
        self.first = first
        super().__init__(
            line,
            f"email: {email} is on line {first} already; one physician per address, so this "
            "row was left out",
            "duplicate",
        )


class IdentifierRowError(RowError):
    """A row giving an NPI or RPPS number that another physician holds, in the database
    (``holder``: their id) or on an earlier line of the same file (``first``). The row is left
    out and named, like a repeated address: its completions would be reported under someone
    else's identity."""

    def __init__(
        self,
        line: int,
        field: str,
        value: str,
        *,
        first: int | None = None,
        holder: int | None = None,
    ) -> None:
        self.first = first
        self.holder = holder
        label = IDENTIFIER_LABELS[field]
        where = (
            f"is on line {first} already" if first is not None else f"belongs to physician {holder}"
        )
        super().__init__(
            line,
            f"{field}: {label} {value} {where}; one physician per {label}, so this row was left out",
            field,
        )


class ColumnsError(RowError):
    """A header without the required columns (``empty``: no header at all, the file holds no
    line): the columns it lacks and those it names that the import does not know."""

    def __init__(
        self,
        line: int,
        missing: list[str],
        unknown: list[str] | None = None,
        *,
        empty: bool = False,
    ) -> None:
        self.missing = missing
        self.unknown = unknown or []
        reason = f"the header lacks the column(s): {', '.join(missing)}"
        super().__init__(line, reason, "empty" if empty else "columns")


class ZoomSignatureError(Exception):
    """The request does not carry a valid, fresh Zoom signature."""


class ZoomPayloadError(ValueError):
    """The payload lacks what a participant or end event needs."""


class ReportFormatError(ValueError):
    """The file is not a Zoom participant or attendee report at all."""


class AmbiguousDatesError(ReportFormatError):
    """No date in the file tells whether its numeric dates are day or month first."""

    def __init__(self, line: int, value: str) -> None:
        self.line = line
        self.value = value
        super().__init__(
            f"line {line}: the date {value!r} reads both day first and month first, and no date "
            "in the file decides; give --date-order mdy or dmy"
        )


class ReportMismatchError(ValueError):
    """The report is of another Zoom webinar than the series'."""

    def __init__(self, found: str, series_id: int, expected: str) -> None:
        super().__init__(
            f"the report is for Zoom webinar {found}, series {series_id} is webinar {expected}"
        )


class ConfigError(Exception):
    """The configuration cannot start the service; the message is one line for a human."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"configuration error: {detail}")


class SchemaOutdatedError(Exception):
    """The database is not at the newest migration: the service refuses to start on it."""

    def __init__(self, current: str | None, head: str) -> None:
        found = f"at revision {current}" if current else "empty"
        super().__init__(f"the database is {found}, not {head}; run `tracker db upgrade` first")


class DuplicateIdentifiersError(Exception):
    """The database holds physicians sharing an NPI or RPPS number, so the migration that makes
    them unique cannot run; the message is one line naming them (id and email) and the fix."""

    #: The numbers named in the message (the rest are counted): it stays one readable line.
    SHOWN = 20

    def __init__(self, duplicates: list[tuple[str, str, list[tuple[int, str]]]]) -> None:
        self.duplicates = duplicates
        groups = "; ".join(
            f"{IDENTIFIER_LABELS[field]} {value}: "
            + ", ".join(f"physician {pid} <{email}>" for pid, email in holders)
            for field, value, holders in duplicates[: self.SHOWN]
        )
        if len(duplicates) > self.SHOWN:
            groups += f"; and {len(duplicates) - self.SHOWN} more numbers"
        super().__init__(
            "cannot make NPI and RPPS numbers unique, physicians share them: "
            f"{groups}; keep the number on the one physician it identifies (clear or correct it "
            "on the others, PATCH /api/physicians/{id}), then run `tracker db upgrade` again"
        )


# self-registration


class RegistrationClosedError(ValueError):
    """The series takes no self-registration (``closed`` or ``invite``): 409 on the API."""

    def __init__(self, series_id: int, mode: str) -> None:
        self.series_id = series_id
        self.mode = mode
        super().__init__(
            f"series {series_id} takes no registration on its own page (registration: {mode})"
        )


# Zoom account integration (SPEC 8)


class ZoomAPIError(RuntimeError):
    """Zoom's API refused a request or could not be reached after the retries; the message is
    one line, fit for an organiser's page and the CLI (never a credential)."""

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(detail)


class ZoomNotConfiguredError(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "the Zoom account is not configured (TRACKER_ZOOM_ACCOUNT_ID, TRACKER_ZOOM_CLIENT_ID, "
            "TRACKER_ZOOM_CLIENT_SECRET)"
        )
