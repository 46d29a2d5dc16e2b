"""A series' evaluation (SPEC 7): its questions, and the results of one session.

Questions are scale (1 to 5), yes/no or free text, worded in French and English, at most
:data:`~tracker.domain.limits.EVALUATION_QUESTIONS`. Replacing the list keeps each question
whose id is sent back (its wording and place may change); a question left out, or whose kind
changes, is retired rather than deleted, so that answers already given keep the question they
answered. Results are counted in the database (one grouped query per measure), so a session of
40,000 answers is never loaded; free-text answers are shown a page at a time and exported whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.errors import InvalidInputError, NotFoundError
from schedules.models import Occurrence, Series
from tracker.domain import limits
from tracker.domain.bounds import RowId
from tracker.domain.models import Claim, EvaluationAnswer, EvaluationQuestion

QuestionKind = Literal["scale", "yes_no", "text"]
KINDS: tuple[QuestionKind, ...] = ("scale", "yes_no", "text")
#: Free-text answers a results page shows per question (the CSV export holds them all).
TEXTS_SHOWN = 100
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def clean_line(value: str) -> str:
    """One line of text: control characters and line breaks become spaces, the ends trimmed."""
    return " ".join(_LINE_CONTROL.sub(" ", value).split())


def clean_text(value: str) -> str:
    """Free text: line breaks and tabs kept (CR LF as LF), other control characters (NUL, which
    PostgreSQL refuses) dropped, the ends trimmed."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _worded(value: str) -> str:
    value = clean_line(value)
    if not value:
        raise ValueError("a question needs its wording")
    return value


Wording = Annotated[
    str,
    Field(min_length=1, max_length=limits.QUESTION_TEXT, examples=["Was the session useful?"]),
    AfterValidator(_worded),
]


class QuestionIn(BaseModel):
    """One question as the organiser writes it; ``id`` keeps an existing question."""

    model_config = ConfigDict(extra="forbid")

    id: RowId | None = Field(default=None, description="An existing question of this series")
    kind: QuestionKind = Field(description="scale: 1 to 5; yes_no; text: free text")
    text_fr: Wording
    text_en: Wording


class EvaluationIn(BaseModel):
    """Body of ``PUT /api/series/{id}/evaluation``: the whole list, in order."""

    model_config = ConfigDict(extra="forbid")

    questions: list[QuestionIn] = Field(max_length=limits.EVALUATION_QUESTIONS)

    @model_validator(mode="after")
    def _ids_once(self) -> EvaluationIn:
        ids = [q.id for q in self.questions if q.id is not None]
        if len(ids) != len(set(ids)):
            raise ValueError("each question id may appear once")
        return self


class QuestionOut(BaseModel):
    id: int
    position: int
    kind: QuestionKind
    text_fr: str
    text_en: str


class EvaluationOut(BaseModel):
    """A series' evaluation and whether its certificates wait for a claim."""

    series_id: int
    claim_required: bool
    claim_window_days: int
    questions: list[QuestionOut]


def question_out(question: EvaluationQuestion) -> QuestionOut:
    return QuestionOut(
        id=question.id or 0,
        position=question.position,
        kind=question.kind,
        text_fr=question.text_fr,
        text_en=question.text_en,
    )


async def series_or_404(session: AsyncSession, series_id: int) -> Series:
    series = await session.get(Series, series_id)
    if series is None:
        raise NotFoundError("series", series_id)
    return series


async def questions(session: AsyncSession, series_id: int) -> list[EvaluationQuestion]:
    """The series' current questions, in order."""
    query = (
        select(EvaluationQuestion)
        .where(
            EvaluationQuestion.series_id == series_id,
            col(EvaluationQuestion.retired).is_(False),
        )
        .order_by(col(EvaluationQuestion.position), col(EvaluationQuestion.id))
    )
    return list((await session.exec(query)).all())


async def replace_questions(
    session: AsyncSession, series_id: int, data: EvaluationIn
) -> list[EvaluationQuestion]:
    """Make ``data`` the series' evaluation (see the module docstring). Flushes."""
    await series_or_404(session, series_id)
    current = {q.id: q for q in await questions(session, series_id)}
    unknown = [q.id for q in data.questions if q.id is not None and q.id not in current]
    if unknown:
        raise InvalidInputError(
            "questions", f"question {unknown[0]} is not one of this series' current questions"
        )
    kept: set[int] = set()
    result: list[EvaluationQuestion] = []
    for position, given in enumerate(data.questions, start=1):
        row = current.get(given.id) if given.id is not None else None
        if row is not None and row.kind == given.kind:
            kept.add(row.id or 0)
            row.position, row.text_fr, row.text_en = position, given.text_fr, given.text_en
        else:
            row = EvaluationQuestion(
                series_id=series_id,
                position=position,
                kind=given.kind,
                text_fr=given.text_fr,
                text_en=given.text_en,
            )
        session.add(row)
        result.append(row)
    for question_id, row in current.items():
        if question_id not in kept:
            row.retired = True
            session.add(row)
    await session.flush()
    return result


# Results ----------------------------------------------------------------------------------


@dataclass
class QuestionResult:
    """One question's answers at one session: how many, the mean and spread of a scale, the
    yes and no of a yes/no, the first free-text answers."""

    question: EvaluationQuestion
    count: int = 0
    mean: float | None = None
    spread: dict[int, int] = field(default_factory=dict)
    yes: int = 0
    no: int = 0
    texts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SessionResults:
    occurrence: Occurrence
    series: Series
    claims: int
    claimed: int
    questions: list[QuestionResult]


async def session_results(session: AsyncSession, occurrence_id: int) -> SessionResults:
    """The evaluation results of one session: claims made and answered, per question."""
    occurrence = await session.get(Occurrence, occurrence_id)
    if occurrence is None:
        raise NotFoundError("occurrence", occurrence_id)
    series = await session.get_one(Series, occurrence.series_id)
    claimed_case = case((col(Claim.claimed_at).is_not(None), 1), else_=0)
    total, claimed = (
        await session.exec(
            select(func.count(), func.coalesce(func.sum(claimed_case), 0)).where(
                Claim.occurrence_id == occurrence_id
            )
        )
    ).one()
    answered = select(EvaluationAnswer.question_id).where(
        EvaluationAnswer.occurrence_id == occurrence_id
    )
    shown = (
        await session.exec(
            select(EvaluationQuestion)
            .where(
                EvaluationQuestion.series_id == series.id,
                (col(EvaluationQuestion.retired).is_(False))
                | col(EvaluationQuestion.id).in_(answered.distinct()),
            )
            .order_by(col(EvaluationQuestion.retired), col(EvaluationQuestion.position))
        )
    ).all()
    results = {q.id: QuestionResult(q) for q in shown}
    yes_case = case((col(EvaluationAnswer.yes).is_(True), 1), else_=0)
    grouped = await session.exec(
        select(
            col(EvaluationAnswer.question_id),
            func.count(),
            func.avg(col(EvaluationAnswer.scale)),
            func.sum(yes_case),
        )
        .where(EvaluationAnswer.occurrence_id == occurrence_id)
        .group_by(col(EvaluationAnswer.question_id))
    )
    for question_id, count, mean, yes in grouped.all():
        if question_id in results:
            row = results[question_id]
            row.count, row.yes = int(count), int(yes or 0)
            if row.question.kind == "yes_no":  # every answer of one is a yes or a no
                row.no = row.count - row.yes
            row.mean = round(float(mean), 2) if mean is not None else None
    spreads = await session.exec(
        select(EvaluationAnswer.question_id, EvaluationAnswer.scale, func.count())
        .where(
            EvaluationAnswer.occurrence_id == occurrence_id,
            col(EvaluationAnswer.scale).is_not(None),
        )
        .group_by(col(EvaluationAnswer.question_id), col(EvaluationAnswer.scale))
    )
    for question_id, scale, count in spreads.all():
        if question_id in results and scale is not None:
            results[question_id].spread[int(scale)] = int(count)
    for row in results.values():
        if row.question.kind == "text":
            texts = await session.exec(
                select(EvaluationAnswer.text)
                .where(
                    EvaluationAnswer.occurrence_id == occurrence_id,
                    EvaluationAnswer.question_id == row.question.id,
                    col(EvaluationAnswer.text).is_not(None),
                )
                .order_by(col(EvaluationAnswer.id))
                .limit(TEXTS_SHOWN)
            )
            row.texts = [text for text in texts.all() if text]
    return SessionResults(occurrence, series, int(total), int(claimed), list(results.values()))


# Export -------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "occurrence_id",
    "session_start",
    "response",
    "question_number",
    "question_kind",
    "question_en",
    "question_fr",
    "answer",
)
EXPORT_BATCH = 1000


def answer_value(answer: EvaluationAnswer) -> str:
    if answer.scale is not None:
        return str(answer.scale)
    if answer.yes is not None:
        return "yes" if answer.yes else "no"
    return answer.text or ""


async def answers_batch(
    session: AsyncSession, occurrence_id: int, *, after: int = 0, limit: int = EXPORT_BATCH
) -> tuple[Sequence[tuple[EvaluationAnswer, EvaluationQuestion]], int | None]:
    """The next answers of a session (by id, after ``after``) with their questions, and the
    id to continue after (``None``: that was the last)."""
    rows = (
        await session.exec(
            select(EvaluationAnswer, EvaluationQuestion)
            .join(
                EvaluationQuestion,
                col(EvaluationQuestion.id) == col(EvaluationAnswer.question_id),
            )
            .where(
                EvaluationAnswer.occurrence_id == occurrence_id, col(EvaluationAnswer.id) > after
            )
            .order_by(col(EvaluationAnswer.id))
            .limit(limit)
        )
    ).all()
    last = rows[-1][0].id if len(rows) == limit else None
    return rows, last


class QuestionResultOut(BaseModel):
    """One question's results at one session."""

    id: int
    position: int
    kind: QuestionKind
    text_fr: str
    text_en: str
    retired: bool = Field(description="Left out of the evaluation since; kept for its answers")
    count: int = Field(description="Answers given")
    mean: float | None = Field(description="Mean of a scale question (1 to 5); else null")
    spread: dict[str, int] = Field(description="Answers per scale value ('1' to '5')")
    yes: int
    no: int
    texts: list[str] = Field(
        description=f"The first {TEXTS_SHOWN} free-text answers (the CSV export holds all)"
    )


class SessionResultsOut(BaseModel):
    """A session's evaluation results: claims made (``claimed``) of those offered (``claims``)."""

    occurrence_id: int
    series_id: int
    claims: int
    claimed: int
    questions: list[QuestionResultOut]


def results_out(results: SessionResults) -> SessionResultsOut:
    return SessionResultsOut(
        occurrence_id=results.occurrence.id or 0,
        series_id=results.series.id or 0,
        claims=results.claims,
        claimed=results.claimed,
        questions=[
            QuestionResultOut(
                id=row.question.id or 0,
                position=row.question.position,
                kind=row.question.kind,
                text_fr=row.question.text_fr,
                text_en=row.question.text_en,
                retired=row.question.retired,
                count=row.count,
                mean=row.mean,
                spread={str(k): v for k, v in sorted(row.spread.items())},
                yes=row.yes,
                no=row.no,
                texts=row.texts,
            )
            for row in results.questions
        ],
    )
