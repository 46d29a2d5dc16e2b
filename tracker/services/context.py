"""What every use case needs beyond its own arguments, built once per process.

The application builds one at start-up (``tracker.app``), each CLI command one of its own;
services receive it as their first argument and open their own sessions from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from notifications.rendering import INLINE, Renderer
from schedules.wording import CreditLabels
from tracker.db import Database
from tracker.domain.credit_types import credit_label_table, credit_regimes
from tracker.domain.documents import CertificateIdentity
from tracker.domain.mailings import MailSettings
from tracker.domain.regimes import RegimeSettings
from tracker.services.memo import Memo
from tracker.settings import Settings


def _nobody_to_wake() -> None:
    """No outbox worker in this process (a CLI command): the service's worker finds the rows."""


@dataclass(frozen=True)
class Services:
    database: Database
    settings: Settings
    mail: MailSettings
    #: Wakes this process's outbox worker after a commit that queued messages.
    poke: Callable[[], None] = _nobody_to_wake
    #: Wakes this process's award projector after a commit that left awards pending; ``None``
    #: where none runs (a CLI command, ``TRACKER_SCHEDULER=off``): the use case projects itself.
    project_soon: Callable[[], None] | None = None
    #: What the calendar feeds last found in the database (``tracker.services.feeds``).
    feeds_read: Memo[Any] = field(default_factory=Memo)
    #: Draws certificate PDFs: the service's worker processes (``TRACKER_PDF_WORKERS``); a CLI
    #: command draws its few on the event loop.
    pdfs: Renderer = INLINE


def mail_settings(
    settings: Settings, labels: CreditLabels, regimes: dict[str, str] | None = None
) -> MailSettings:
    return MailSettings(
        base_url=settings.base_url,
        sender=settings.mail_from,
        provider=settings.provider_name,
        labels=labels,
        certificate=CertificateIdentity(
            accreditation_en=settings.accreditation_statement or None,
            accreditation_fr=settings.accreditation_statement_fr or None,
            signatory_name=settings.certificate_signatory_name,
            signatory_title=settings.certificate_signatory_title,
            regimes=RegimeSettings(
                dpc_provider_name=settings.dpc_provider_name or settings.provider_name,
                dpc_provider_number=settings.dpc_provider_number,
                council_name=settings.council_name,
                council_board=settings.council_board,
            ),
        ),
        regimes=regimes or {},
    )


async def load_mail_settings(database: Database, settings: Settings) -> MailSettings:
    """Mail settings with the credit types' labels as the database holds them now."""
    async with database.session() as session:
        labels = await credit_label_table(session)
        regimes = await credit_regimes(session)
    return mail_settings(settings, labels, regimes)


async def load_services(
    database: Database, settings: Settings, poke: Callable[[], None] = _nobody_to_wake
) -> Services:
    return Services(database, settings, await load_mail_settings(database, settings), poke)
