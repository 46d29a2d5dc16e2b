"""A series' evaluation (read, replace) and a session's results (read, export in batches)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from schedules.clock import iso_z
from schedules.errors import NotFoundError
from schedules.models import Occurrence, Series
from tracker.domain import evaluations
from tracker.domain.models import EvaluationQuestion
from tracker.services.context import Services


async def evaluation(services: Services, series_id: int) -> tuple[Series, list[EvaluationQuestion]]:
    """The series and its current questions."""
    async with services.database.session() as session:
        series = await evaluations.series_or_404(session, series_id)
        return series, await evaluations.questions(session, series_id)


async def replace_evaluation(
    services: Services, series_id: int, data: evaluations.EvaluationIn
) -> tuple[Series, list[EvaluationQuestion]]:
    """Make ``data`` the series' evaluation; the series and its questions as saved."""
    async with services.database.session() as session:
        await evaluations.replace_questions(session, series_id, data)
        await session.commit()
        series = await evaluations.series_or_404(session, series_id)
        return series, await evaluations.questions(session, series_id)


async def session_results(services: Services, occurrence_id: int) -> evaluations.SessionResults:
    async with services.database.session() as session:
        return await evaluations.session_results(session, occurrence_id)


async def export_answers(
    services: Services, occurrence_id: int
) -> AsyncGenerator[list[list[str]], None]:
    """A session's answers as CSV rows (the header alone first), a batch per short session; raises
    :class:`NotFoundError` before the first row when the session does not exist."""
    async with services.database.session() as session:
        occurrence = await session.get(Occurrence, occurrence_id)
        if occurrence is None:
            raise NotFoundError("occurrence", occurrence_id)
    start = iso_z(occurrence.start)
    yield [list(evaluations.CSV_COLUMNS)]
    after: int | None = 0
    while after is not None:
        async with services.database.session() as session:
            rows, after = await evaluations.answers_batch(session, occurrence_id, after=after)
        yield [
            [
                str(occurrence_id),
                start,
                str(answer.claim_id),
                str(question.position),
                question.kind,
                question.text_en,
                question.text_fr,
                evaluations.answer_value(answer),
            ]
            for answer, question in rows
        ]
