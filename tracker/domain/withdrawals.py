"""When a session's certificate stops attesting credit because the corrected award earns none.

A certificate is **withdrawn** when its session's award, as corrected since it was issued, gives
no credit any more: a late attendance fact cut it below the minimum (or to nothing), a claim
capped at the new computed minutes falls below the minimum, or the session was cancelled
(a cancelled session attests no credit, :func:`tracker.domain.awards.credit_for`). The award
itself then counts nothing in any reader (totals, requirements, statements, the board export,
the organiser's views), since they all read the corrected figures; the withdrawal makes the
certificate say so too: its public check answers ``withdrawn`` with the reason, its credential's
status bit is set, its PDF and credential answer 410, and the physician is emailed once per
certificate version.

Unlike an organiser's revocation (:mod:`tracker.domain.revocations`), a withdrawal is not for
good: when credit comes back (another late fact, the session restored), a new version is issued
as any re-issue, and the withdrawn certificate's check names it as its replacement.
"""

from __future__ import annotations

from schedules.models import Occurrence, OccurrenceStatus
from tracker.domain.schemas import WithdrawalReason

#: The outbox kind of the email telling a physician their certificate was withdrawn.
KIND = "certificate-withdrawn"


def reason_for(occurrence: Occurrence) -> WithdrawalReason:
    """Why a certificate of this session is withdrawn now."""
    return "cancelled" if occurrence.status == OccurrenceStatus.CANCELLED else "no_credit"


def withdrawal_key(occurrence_id: int, physician_id: int, version: int) -> str:
    """The outbox key of the withdrawal email of one certificate version: sent once."""
    return f"certificate-withdrawn:{occurrence_id}:{physician_id}:v{version}"
