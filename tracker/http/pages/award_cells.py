"""What a session's credits cell reads, on the physician's page and on the organiser's view of a
physician: the credit that counts or, where none does, a word saying why rather than an empty
cell (on a phone the cell is named, and "Crédits :" followed by nothing says nothing).

Where a series requires claims (SPEC 7), no credit counts before the claim: the cell says the
credits come once claimed; a claim never made before the window closed leaves none."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from schedules.wording import credit_amount
from tracker.domain.schemas import AwardPublic


def credits_cell(
    award: AwardPublic,
    *,
    t: Mapping[str, str],
    labels: Mapping[str, str],
    lang: str,
    amount: Callable[[float, str], str] = credit_amount,
) -> str:
    """``AMA PRA Category 1 Credit(s)™ 1,0, heures DPC 1,0``; else why there is none:
    ``credits.on_claim`` (a claim open), ``credits.pending`` (not final yet) or ``credits.none``."""
    if award.credits:
        return ", ".join(
            f"{labels.get(code, code)} {amount(value, lang)}"
            for code, value in sorted(award.credits.items())
        )
    if award.claim == "open":
        return t["credits.on_claim"]
    if not award.final:
        return t["credits.pending"]
    return t["credits.none"]
