"""What a certificate prints for each accreditation regime (issue 11, point 6).

A credit type names its regime (``credit_type.regime``: data, seeded by migration 0015); a
certificate prints, for every type the award carries that has one, the fields that regime's
body wants to read, in the physician's language:

- ``ama`` (AMA PRA Category 1, ACCME): provider, activity title, format "live activity", date,
  credits awarded in "AMA PRA Category 1 Credit(s)™", the designation statement (verbatim
  English; a French rendering first on French certificates) and the accreditation statement;
- ``dpc`` (French DPC, ANDPC): the physician's RPPS, the provider's name and ODPC number
  (``TRACKER_DPC_PROVIDER_NAME``, ``TRACKER_DPC_PROVIDER_NUMBER``), the action's reference
  (``series.dpc_action_ref``), the duration in hours and minutes, the format "classe virtuelle";
- ``smc`` (an Indian state medical council): the council (``TRACKER_COUNCIL_NAME``), the
  physician's registration number with it (``board_ids[TRACKER_COUNCIL_BOARD]``), the council's
  accreditation reference of the event (``series.council_accreditation_ref``) and the credit
  hours allotted.

A field whose value is not configured is left out rather than printed empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from notifications.pdf import CertificateSection
from schedules.designation import designation_lines
from schedules.models import Occurrence, Series
from schedules.wording import credit_amount, labelled, quantity
from tracker.domain.localtime import long_date
from tracker.domain.models import Physician

#: The regimes, in the order their sections print.
REGIMES = ("ama", "dpc", "smc")
#: Each regime's fields, in print order: the data the certificate follows.
FIELDS: dict[str, tuple[str, ...]] = {
    "ama": ("provider", "title", "format", "date", "credits", "designation", "accreditation"),
    "dpc": ("rpps", "provider", "action", "duration", "format"),
    "smc": ("council", "registration", "accreditation_ref", "credit_hours"),
}

_WORDS = {
    "fr": {
        "ama.heading": "AMA PRA Category 1 Credit™ (ACCME)",
        "ama.provider": "Organisme",
        "ama.title": "Intitulé de l’activité",
        "ama.format": "Format",
        "ama.format.value": "activité en direct (live activity)",
        "ama.date": "Date",
        "ama.credits": "Crédits obtenus",
        "dpc.heading": "Développement professionnel continu (DPC)",
        "dpc.rpps": "N° RPPS du participant",
        "dpc.provider": "Organisme de DPC",
        "dpc.number": "n° ODPC {}",
        "dpc.action": "Référence de l’action",
        "dpc.duration": "Durée",
        "dpc.format": "Format",
        "dpc.format.value": "classe virtuelle",
        "smc.heading": "Conseil médical d’État (Inde)",
        "smc.council": "Conseil",
        "smc.registration": "N° d’inscription du médecin",
        "smc.accreditation_ref": "Référence d’accréditation du conseil",
        "smc.credit_hours": "Heures de crédit attribuées",
    },
    "en": {
        "ama.heading": "AMA PRA Category 1 Credit™ (ACCME)",
        "ama.provider": "Provider",
        "ama.title": "Activity title",
        "ama.format": "Format",
        "ama.format.value": "live activity",
        "ama.date": "Date",
        "ama.credits": "Credits awarded",
        "dpc.heading": "Continuing professional development (French DPC)",
        "dpc.rpps": "Participant’s RPPS number",
        "dpc.provider": "DPC provider",
        "dpc.number": "ODPC no. {}",
        "dpc.action": "Action reference",
        "dpc.duration": "Duration",
        "dpc.format": "Format",
        "dpc.format.value": "virtual classroom (classe virtuelle)",
        "smc.heading": "State Medical Council (India)",
        "smc.council": "Council",
        "smc.registration": "Physician’s registration number",
        "smc.accreditation_ref": "Council’s accreditation reference",
        "smc.credit_hours": "Credit hours allotted",
    },
}


@dataclass(frozen=True)
class RegimeSettings:
    """The provider's identifiers per regime (``TRACKER_DPC_*``, ``TRACKER_COUNCIL_*``)."""

    dpc_provider_name: str = ""
    dpc_provider_number: str = ""
    council_name: str = ""
    council_board: str = "SMC"


def duration(hours: float, language: str) -> str:
    """``1 h 30`` (French) / ``1 h 30 min`` (English); whole hours alone: ``2 h``."""
    minutes = round(hours * 60)
    whole, rest = divmod(minutes, 60)
    if rest == 0:
        return f"{whole} h"
    return f"{whole} h {rest:02d}" if language == "fr" else f"{whole} h {rest} min"


@dataclass(frozen=True)
class Award:
    """What the sections need of the certificate beyond the series and the physician."""

    credits: Mapping[str, float]
    provider: str
    accreditation: str
    labels: Mapping[str, str]


def carried(credits: Mapping[str, float], regimes: Mapping[str, str]) -> list[str]:
    """The regimes of the credit types an award carries, in print order."""
    found = {regimes[code] for code in credits if code in regimes}
    return [regime for regime in REGIMES if regime in found]


def sections(
    award: Award,
    physician: Physician,
    occurrence: Occurrence,
    series: Series,
    *,
    regimes: Mapping[str, str],
    settings: RegimeSettings,
    language: str,
) -> tuple[CertificateSection, ...]:
    """One section per regime the award carries, worded in ``language``."""
    lang = "fr" if language == "fr" else "en"
    words = _WORDS[lang]
    codes = {r: sorted(c for c in award.credits if regimes.get(c) == r) for r in REGIMES}

    def amounts(regime: str) -> str:
        return ", ".join(
            quantity(award.credits[code], award.labels.get(code, code), lang)
            for code in codes[regime]
        )

    built: list[CertificateSection] = []
    for regime in carried(award.credits, regimes):
        values: dict[str, str | None] = {}
        paragraphs: dict[str, list[str]] = {}
        hours = sum(award.credits[code] for code in codes[regime])
        if regime == "ama":
            designated = [c for c in series.credits if regimes.get(str(c["type"])) == "ama"]
            values = {
                "provider": award.provider,
                "title": series.title,
                "format": words["ama.format.value"],
                "date": long_date(_local_day(occurrence, series), lang),
                "credits": amounts("ama"),
            }
            paragraphs = {
                "designation": [
                    sentence
                    for sentence, _ in designation_lines(
                        designated, provider=award.provider, labels=award.labels, language=lang
                    )
                ],
                "accreditation": [award.accreditation],
            }
        elif regime == "dpc":
            provider = settings.dpc_provider_name or award.provider
            if settings.dpc_provider_number:
                provider += f" ({words['dpc.number'].format(settings.dpc_provider_number)})"
            values = {
                "rpps": physician.rpps,
                "provider": provider,
                "action": series.dpc_action_ref,
                "duration": duration(hours, lang),
                "format": words["dpc.format.value"],
            }
        else:
            values = {
                "council": settings.council_name or None,
                "registration": physician.board_ids.get(settings.council_board),
                "accreditation_ref": series.council_accreditation_ref,
                "credit_hours": credit_amount(hours, lang),
            }
        lines = [
            labelled(words[f"{regime}.{name}"], value, lang)
            for name in FIELDS[regime]
            if (value := values.get(name))
        ]
        built.append(
            CertificateSection(
                heading=words[f"{regime}.heading"],
                lines=tuple(lines),
                paragraphs=tuple(p for name in FIELDS[regime] for p in paragraphs.get(name, ())),
            )
        )
    return tuple(built)


def _local_day(occurrence: Occurrence, series: Series) -> date:
    return occurrence.start.astimezone(ZoneInfo(series.timezone)).date()
