"""Credit designation statements printed in feeds, emails and certificates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from schedules.wording import credit_amount, quantity

#: A French rendering of the AMA designation, for French pages: the verbatim English statement
#: is shown beside it (:func:`designation_lines`), and stays alone in feeds and certificates.
AMA_FRENCH = (
    "{provider} désigne cette activité en direct pour un maximum de {amount} "
    "AMA PRA Category 1 Credit(s)™. Les médecins ne doivent déclarer que les crédits "
    "correspondant à leur participation effective à l’activité."
)


def _amount(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.1f}"


def designation_lines(
    credits: Sequence[Mapping[str, Any]],
    *,
    provider: str,
    labels: Mapping[str, str],
    language: str,
) -> list[tuple[str, str]]:
    """The statement for a page in ``language``, as ``(sentence, language of the sentence)``:
    every sentence in the page's language, and for AMA PRA Category 1 on a French page the
    French rendering followed by the verbatim English statement the AMA requires."""
    lines: list[tuple[str, str]] = []
    for credit in credits:
        code, maximum = str(credit["type"]), float(credit["max"])
        if code == "AMA_PRA_1" and language == "fr":
            lines.append(
                (AMA_FRENCH.format(provider=provider, amount=credit_amount(maximum, "fr")), "fr")
            )
        english = code == "AMA_PRA_1"
        sentence = designation_statement(
            [credit], provider=provider, labels=labels, language="en" if english else language
        )
        lines.append((sentence, "en" if english else language))
    return lines


def designation_statement(
    credits: Sequence[Mapping[str, Any]],
    *,
    provider: str,
    labels: Mapping[str, str],
    language: str,
) -> str:
    """The AMA wording for AMA PRA Category 1 and a plain sentence for every other type.

    The AMA statement is required verbatim in English; other sentences follow ``language``
    (the reader's: a certificate's, an email's, or the series' in a public feed), with the
    language's decimal sign and agreement (``1,0 heure DPC``).
    """
    sentences: list[str] = []
    for credit in credits:
        code, maximum = str(credit["type"]), float(credit["max"])
        if code == "AMA_PRA_1":
            sentences.append(
                f"{provider} designates this live activity for a maximum of {_amount(maximum)} "
                "AMA PRA Category 1 Credit(s)™. Physicians should claim only the credit "
                "commensurate with the extent of their participation in the activity."
            )
            continue
        label = labels.get(code, code)
        if language == "fr":
            sentences.append(
                f"Cette session est validée pour {quantity(maximum, label, 'fr')} au maximum."
            )
        else:
            sentences.append(
                f"This session is designated for a maximum of {quantity(maximum, label, 'en')}."
            )
    return "\n".join(sentences)
