"""The organiser's evaluation pages (SPEC 7): a series' claim settings and questions, and one
session's results with the CSV export. Thin handlers: parse, call one service, render."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from schedules.errors import InvalidInputError, NotFoundError
from schedules.schemas import SeriesUpdate
from schedules.wording import number
from tracker.domain import limits
from tracker.domain.evaluations import KINDS, EvaluationIn, QuestionIn, clean_line
from tracker.domain.localtime import when
from tracker.domain.numerals import plain_decimal, whole_number
from tracker.http.api.evaluations import stream_export
from tracker.http.keys import SERVICES
from tracker.http.pages.i18n import language, translator
from tracker.http.pages.organiser import _organizer_session
from tracker.http.pages.render import form_with_csrf, page
from tracker.http.parsing import path_id
from tracker.services import evaluations as evaluation_service
from tracker.services import series as series_service

#: Empty rows the editor offers below the questions, for new ones.
BLANK_ROWS = 3


def _rows_of(questions: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": str(q.id),
            "kind": q.kind,
            "text_fr": q.text_fr,
            "text_en": q.text_en,
            "position": str(q.position),
            "remove": False,
        }
        for q in questions
    ]


def _blank(position: int) -> dict[str, Any]:
    return {
        "id": "",
        "kind": "scale",
        "text_fr": "",
        "text_en": "",
        "position": str(position),
        "remove": False,
    }


async def evaluation_page(
    request: web.Request,
    *,
    status: int = 200,
    rows: list[dict[str, Any]] | None = None,
    errors: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
) -> web.Response:
    row = await _organizer_session(request)
    try:
        series, questions = await evaluation_service.evaluation(
            request.app[SERVICES], path_id(request)
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None
    shown = rows if rows is not None else _rows_of(questions)
    room = max(0, min(BLANK_ROWS, limits.EVALUATION_QUESTIONS - len(shown)))
    if rows is None:
        shown += [_blank(len(shown) + i + 1) for i in range(room)]
    return page(
        request,
        "org_evaluation.html",
        status=status,
        series=series,
        rows=shown,
        kinds=KINDS,
        errors=errors or {},
        settings=settings
        or {"claim_required": series.claim_required, "window": str(series.claim_window_days)},
        csrf=row.csrf,
        max_questions=limits.EVALUATION_QUESTIONS,
        text_max=limits.QUESTION_TEXT,
        window_min=limits.CLAIM_WINDOW_DAYS_MIN,
        window_max=limits.CLAIM_WINDOW_DAYS_MAX,
    )


def _posted_rows(form: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for index in range(limits.EVALUATION_QUESTIONS + BLANK_ROWS):
        if f"kind-{index}" not in form:
            continue
        rows.append(
            {
                "index": index,
                "id": form.get(f"id-{index}", "").strip()[:12],
                "kind": form.get(f"kind-{index}", ""),
                "text_fr": form.get(f"fr-{index}", "")[: limits.QUESTION_TEXT * 2],
                "text_en": form.get(f"en-{index}", "")[: limits.QUESTION_TEXT * 2],
                "position": form.get(f"position-{index}", "").strip()[:6],
                "remove": form.get(f"remove-{index}") == "yes",
            }
        )
    return rows


def _whole(text: str) -> int:
    """A whole number as typed (ASCII digits once folded), else ``ValueError``: the row's or
    the field's error."""
    found = whole_number(text)
    if found is None:
        raise ValueError(f"{text!r} is not a whole number")
    return found


def _number(text: str) -> float:
    """A plain decimal number as typed (no ``inf``, ``nan`` or ``1e9``), else ``ValueError``."""
    plain = plain_decimal(text)
    if plain is None:
        raise ValueError(f"{text!r} is not a number")
    return float(plain)


def _checked(rows: list[dict[str, Any]]) -> tuple[list[QuestionIn], dict[str, str]]:
    """The questions kept, in order, and the errors by row (``row-{index}``: a message key)."""
    kept: list[tuple[float, int, QuestionIn]] = []
    errors: dict[str, str] = {}
    for row in rows:
        fr, en = clean_line(row["text_fr"]), clean_line(row["text_en"])
        if row["remove"] or (not row["id"] and not fr and not en):
            continue
        name = f"row-{row['index']}"
        if row["kind"] not in KINDS:
            errors[name] = "eval.bad.kind"
        elif not fr or not en:
            errors[name] = "eval.bad.wording"
        elif len(fr) > limits.QUESTION_TEXT or len(en) > limits.QUESTION_TEXT:
            errors[name] = "eval.bad.long"
        else:
            try:
                position = _number(row["position"]) if row["position"] else float(row["index"])
                question = QuestionIn.model_validate(
                    {
                        "id": _whole(row["id"]) if row["id"] else None,
                        "kind": row["kind"],
                        "text_fr": fr,
                        "text_en": en,
                    }
                )
            except (ValueError, ValidationError):
                errors[name] = "eval.bad.row"
                continue
            kept.append((position, row["index"], question))
    if len(kept) > limits.EVALUATION_QUESTIONS:
        errors["form"] = "eval.bad.many"
    return [q for _, _, q in sorted(kept, key=lambda item: item[:2])], errors


async def save_evaluation(request: web.Request) -> web.StreamResponse:
    row = await _organizer_session(request)
    form = await form_with_csrf(request, row)
    series_id = path_id(request)
    rows = _posted_rows(form)
    questions, errors = _checked(rows)
    if not errors:
        try:
            await evaluation_service.replace_evaluation(
                request.app[SERVICES], series_id, EvaluationIn(questions=questions)
            )
        except NotFoundError:
            raise web.HTTPNotFound() from None
        except (InvalidInputError, ValidationError):
            errors = {"form": "eval.bad.row"}
    if errors:
        return await evaluation_page(request, status=422, rows=rows, errors=errors)
    raise web.HTTPSeeOther(f"/organizer/series/{series_id}/evaluation?saved=1")


async def save_claim_settings(request: web.Request) -> web.StreamResponse:
    row = await _organizer_session(request)
    form = await form_with_csrf(request, row)
    series_id = path_id(request)
    required = form.get("claim_required") == "yes"
    window = form.get("claim_window_days", "").strip()[:6]
    try:
        data = SeriesUpdate(claim_required=required, claim_window_days=_whole(window))
    except (ValueError, ValidationError):
        return await evaluation_page(
            request,
            status=422,
            errors={"window": "eval.bad.window"},
            settings={"claim_required": required, "window": window},
        )
    try:
        await series_service.update_series(request.app[SERVICES], series_id, data)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"/organizer/series/{series_id}/evaluation?saved=1")


async def results_page(request: web.Request) -> web.Response:
    """One session's evaluation: claims made, then each question's answers."""
    await _organizer_session(request)
    lang = language(request)
    occurrence_id = path_id(request)
    try:
        results = await evaluation_service.session_results(request.app[SERVICES], occurrence_id)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    t = translator(lang)
    return page(
        request,
        "org_evaluation_results.html",
        title=results.series.title,
        series_id=results.series.id,
        when=when(results.occurrence.start, results.series.timezone, lang),
        claims=results.claims,
        claimed=results.claimed,
        occurrence_id=occurrence_id,
        questions=[
            {
                "text": r.question.text_fr if lang == "fr" else r.question.text_en,
                "kind": r.question.kind,
                "retired": r.question.retired,
                "count": r.count,
                "mean": number(r.mean, lang) if r.mean is not None else "—",
                "spread": [(v, r.spread.get(v, 0)) for v in range(1, 6)],
                "yes": r.yes,
                "no": r.no,
                "texts": r.texts,
                "more": r.count > len(r.texts),
            }
            for r in results.questions
        ],
        kind_names={k: t[f"eval.kind.{k}"] for k in KINDS},
    )


async def results_csv(request: web.Request) -> web.StreamResponse:
    """The page's download link: the API's CSV, for a signed-in organiser's browser."""
    await _organizer_session(request)
    try:
        return await stream_export(request, path_id(request))
    except NotFoundError:
        raise web.HTTPNotFound() from None
