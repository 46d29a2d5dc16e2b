"""What a certificate and a monthly statement say, worded in the physician's language.

A certificate names the provider, the physician, the activity (title, date, format: a live
webinar, and where: online on Zoom or on the join link's host), the minutes attended and the
credits awarded, the credit designation, the provider's accreditation statement and the
signatory. French follows French typography: a no-break space before a colon, a decimal comma,
the singular below two (``1,0 heure DPC``), dates written out by Babel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from notifications.pdf import CertificateData, StatementData
from schedules.designation import designation_statement
from schedules.models import Occurrence, Series
from schedules.wording import credit_amount, labelled, number, quantity
from tracker.domain.localtime import day, long_date, when_named
from tracker.domain.models import Certificate, Physician
from tracker.domain.regimes import Award as RegimeAward
from tracker.domain.regimes import RegimeSettings, carried, sections

if TYPE_CHECKING:
    from tracker.domain.mailings import MailSettings
    from tracker.domain.schemas import AwardPublic, RequirementProgress

#: ACCME's accreditation statement (Accreditation Statement policy), and its French rendering.
DEFAULT_ACCREDITATION = {
    "en": "{provider} is accredited by the Accreditation Council for Continuing Medical "
    "Education (ACCME) to provide continuing medical education for physicians.",
    "fr": "L’organisme {provider} est accrédité par l’Accreditation Council for Continuing "
    "Medical Education (ACCME) pour dispenser la formation médicale continue aux médecins.",
}
_WORDS = {
    "fr": {
        "certificate": "Attestation de participation",
        "format": "Format",
        "live": "Activité en direct — webinaire",
        "location": "Lieu",
        "online": "En ligne",
        "attended": "Minutes de présence",
        "credits": "Crédits obtenus",
        "code": "Code de vérification",
        "issued": "Délivrée le {}",
        "statement": "Relevé de formation",
        "totals": "Crédits du mois",
        "requirements": "Objectifs",
        "progress": "{earned} sur {required} (du {start} au {end})",
        "sessions": "Sessions",
    },
    "en": {
        "certificate": "Certificate of attendance",
        "format": "Format",
        "live": "Live activity — webinar",
        "location": "Location",
        "online": "Online",
        "attended": "Minutes attended",
        "credits": "Credits awarded",
        "code": "Verification code",
        "issued": "Issued on {}",
        "statement": "CME statement",
        "totals": "Credits this month",
        "requirements": "Requirements",
        "progress": "{earned} of {required} ({start} to {end})",
        "sessions": "Sessions",
    },
}


@dataclass(frozen=True)
class CertificateIdentity:
    """Who stands behind a certificate (``TRACKER_ACCREDITATION_STATEMENT*``,
    ``TRACKER_CERTIFICATE_SIGNATORY_*``). An accreditation statement set in English only is
    printed verbatim on French certificates too (ACCME's wording is not to be paraphrased)."""

    accreditation_en: str | None = None
    accreditation_fr: str | None = None
    signatory_name: str = ""
    signatory_title: str = ""
    #: The provider's identifiers per regime (DPC, Indian council): :mod:`tracker.domain.regimes`.
    regimes: RegimeSettings = field(default_factory=RegimeSettings)

    def accreditation(self, language: str, provider: str) -> str:
        if language == "fr" and self.accreditation_fr:
            return self.accreditation_fr
        if self.accreditation_en:
            return self.accreditation_en
        return DEFAULT_ACCREDITATION["fr" if language == "fr" else "en"].format(provider=provider)


def _words(language: str) -> dict[str, str]:
    return _WORDS["fr" if language == "fr" else "en"]


def location(series: Series, language: str) -> str:
    """``Online (Zoom)`` for a Zoom webinar, else ``Online (host of the join link)``."""
    host = (urlsplit(series.join_url).hostname or "").lower()
    zoom = bool(series.zoom_webinar_id) or host == "zoom.us" or host.endswith(".zoom.us")
    place = "Zoom" if zoom else host
    online = _words(language)["online"]
    return f"{online} ({place})" if place else online


def credit_quantities(
    credits: Mapping[str, float], labels: Mapping[str, str], language: str
) -> tuple[str, ...]:
    """``("1,0 AMA PRA Category 1 Credit(s)™", "1,0 heure DPC")``, by credit code."""
    return tuple(
        quantity(value, labels.get(code, code), language) for code, value in sorted(credits.items())
    )


def designation(series: Series, mail: MailSettings, language: str) -> str:
    """The credit designation in the reader's language (not the series')."""
    return designation_statement(
        series.credits, provider=mail.provider, labels=mail.labels.of(language), language=language
    )


def certificate_data(
    certificate: Certificate,
    physician: Physician,
    occurrence: Occurrence,
    series: Series,
    mail: MailSettings,
) -> CertificateData:
    lang = physician.language
    words = _words(lang)
    labels = mail.labels.of(lang)
    accreditation = mail.certificate.accreditation(lang, mail.provider)
    own = sections(
        RegimeAward(certificate.credits, mail.provider, accreditation, labels),
        physician,
        occurrence,
        series,
        regimes=mail.regimes,
        settings=mail.certificate.regimes,
        language=lang,
    )
    if "ama" in carried(certificate.credits, mail.regimes):
        accreditation = ""  # printed in the AMA section
    elif mail.regimes and not (
        mail.certificate.accreditation_en or mail.certificate.accreditation_fr
    ):
        accreditation = ""  # ACCME's default statement speaks of AMA credit only
    others = [c for c in series.credits if str(c["type"]) not in mail.regimes]
    identifiers = [f"NPI {physician.npi}"] if physician.npi else []
    identifiers += [f"RPPS {physician.rpps}"] if physician.rpps else []
    identifiers += [f"{board} {number}" for board, number in sorted(physician.board_ids.items())]
    return CertificateData(
        language="fr" if lang == "fr" else "en",
        title=words["certificate"],
        provider=mail.provider,
        physician_name=certificate.holder(physician),
        identifiers=tuple(identifiers),
        series_title=series.title,
        session_text=when_named(occurrence.start, series.timezone, lang),
        activity=labelled(words["format"], words["live"], lang),
        location=labelled(words["location"], location(series, lang), lang),
        attendance=labelled(words["attended"], f"{number(certificate.minutes, lang)} min", lang),
        credits_title=words["credits"],
        credits=credit_quantities(
            {c: v for c, v in certificate.credits.items() if c not in mail.regimes},
            labels,
            lang,
        ),
        statement=designation_statement(
            others, provider=mail.provider, labels=labels, language=lang
        ),
        accreditation=accreditation,
        signatory_name=mail.certificate.signatory_name,
        signatory_title=mail.certificate.signatory_title,
        code_line=labelled(words["code"], certificate.code, lang),
        verify_url=f"{mail.base_url}/certificates/{certificate.code}",
        issued_text=words["issued"].format(long_date(certificate.issued_at.date(), lang)),
        sections=own,
    )


def statement_data(
    physician: Physician,
    mail: MailSettings,
    period_label: str,
    totals: Mapping[str, float],
    requirements: Sequence[RequirementProgress],
    awards: Sequence[AwardPublic],
) -> StatementData:
    lang = physician.language
    words = _words(lang)
    labels = mail.labels.of(lang)
    progress = [
        labelled(
            labels.get(r.type, r.type),
            words["progress"].format(
                earned=credit_amount(r.earned, lang),
                required=credit_amount(r.required, lang),
                start=day(r.from_, lang),
                end=day(r.to, lang),
            ),
            lang,
        )
        for r in requirements
    ]
    sessions = [
        " — ".join(
            (
                long_date(a.session_date, lang),
                a.series_title,
                f"{number(a.minutes, lang)} min",
                ", ".join(credit_quantities(a.credits, labels, lang)),
            )
        )
        for a in awards
    ]
    return StatementData(
        language="fr" if lang == "fr" else "en",
        title=labelled(words["statement"], period_label, lang),
        provider=mail.provider,
        physician_name=f"{physician.first_name} {physician.last_name}",
        totals_title=words["totals"],
        totals=credit_quantities(totals, labels, lang),
        requirements_title=words["requirements"],
        requirements=tuple(progress),
        sessions_title=words["sessions"],
        sessions=tuple(sessions),
    )
