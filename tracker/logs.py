"""No secret reaches a log: every record of the process is redacted when it is made.

Tokens travel in paths (``/me/<token>``, ``/feeds/<token>.ics``, ``/unsubscribe/<token>``,
``/registration/<code>``, ``/claims/<code>``), in
headers (``Authorization: Bearer ...``, the session cookie) and, when something fails, in the
messages and tracebacks of exceptions (aiohttp quotes a malformed header line in full). Filtering
at each call site would miss the next one, so :func:`install_redaction` wraps the log record
factory: whoever logs (our code, aiohttp, asyncio, a library), the message, its arguments and its
formatted traceback are redacted before any handler or formatter sees them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from time import strftime
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from tracker.domain.tokens import TOKEN_PREFIXES

MASK = "…"
_URLSAFE = r"A-Za-z0-9_\-"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Paths whose next segments are a secret (a personal certificate or session download is not, nor the
    # API's ``/api/me/…`` routes, nor a route pattern such as ``/feeds/{token}.ics``).
    (
        re.compile(
            r"(?<!/api)/(me|feeds|unsubscribe|registration|claims)/(?!certificates/|occurrences/|\{)[^\s?#'\"<>]+"
        ),
        rf"/\1/{MASK}",
    ),
    # Credentials in headers, well-formed or not: ``Bearer x``, ``Authorization Bearer x``.
    (re.compile(r"(?i)\b(bearer)(\s+)[^\s'\",;]+"), rf"\1\2{MASK}"),
    # Secrets as key=value (query strings, cookies, form bodies).
    (
        re.compile(r"(?i)\b(token|csrf|password|secret|tracker_session|tracker_login)=[^&\s;'\"]+"),
        rf"\1={MASK}",
    ),
    # Our own token formats, wherever they appear (``phy_…``, ``org_…``).
    (
        re.compile(rf"\b({'|'.join(re.escape(p) for p in TOKEN_PREFIXES)})[{_URLSAFE}]+"),
        rf"\1{MASK}",
    ),
)
#: Any other long url-safe run with both cases is random enough to be a secret of some kind
#: (unsubscribe tokens, session ids, a future token format); identifiers and hex hashes are not.
_RANDOM_RUN = re.compile(rf"(?<![{_URLSAFE}])[{_URLSAFE}]{{32,}}(?![{_URLSAFE}])")


def _mask_random(match: re.Match[str]) -> str:
    run = match.group(0)
    if any(c.isupper() for c in run) and any(c.islower() for c in run):
        return MASK
    return run


def _scoped(pattern: str) -> str:
    """``pattern`` as an alternative of a larger one (its leading ``(?i)`` scoped to it)."""
    return f"(?i:{pattern[4:]})" if pattern.startswith("(?i)") else f"(?:{pattern})"


#: Any of the above, in one scan: most lines (every access log line of a webhook, say) hold no
#: secret, and one search that finds nothing costs a fifth of the four substitutions.
_ANYTHING = re.compile(
    "|".join(_scoped(p.pattern) for p in (*(p for p, _ in _PATTERNS), _RANDOM_RUN))
)


def redact_text(text: str) -> str:
    """``text`` with every token, bearer credential and secret path segment replaced by ``…``."""
    if _ANYTHING.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _RANDOM_RUN.sub(_mask_random, text)


def redact(path: str) -> str:
    """A request path for the access log: secrets masked, query string dropped."""
    return redact_text(path.split("?", 1)[0])


def _formatted_exception(error: BaseException) -> str:
    """The traceback as :class:`logging.Formatter` would print it."""
    return "".join(traceback.format_exception(error)).removesuffix("\n")


def redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it when the record is emitted
        return
    clean = redact_text(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = redact_text(_formatted_exception(record.exc_info[1]))
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)


def quiet_client_mistakes(record: logging.LogRecord) -> None:
    """aiohttp logs a request it cannot parse (a 20,000-byte URL, a header line too long,
    garbage on the port) as an ERROR with a traceback, once per request: anyone could fill the
    log with them. It is the client's mistake, answered 400: one WARNING line, the reason cut
    short, no traceback."""
    from aiohttp.http_exceptions import HttpProcessingError

    error = record.exc_info[1] if record.exc_info else None
    if record.name != "aiohttp.server" or not isinstance(error, HttpProcessingError):
        return
    reason = " ".join(str(error.message).split())
    reason = reason if len(reason) <= 120 else reason[:119] + "…"
    record.msg = f"{record.getMessage()}: refused with {error.code}: {reason}"
    record.args = None
    record.exc_info = record.exc_text = None
    record.levelno, record.levelname = logging.WARNING, "WARNING"


def install_redaction() -> None:
    """Redact every log record of this process from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "redacting", False):
        return

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        quiet_client_mistakes(record)
        redact_record(record)
        return record

    redacting_factory.redacting = True  # type: ignore[attr-defined]  # marks ours
    logging.setLogRecordFactory(redacting_factory)


#: Routes whose successful (2xx) answers are counted and logged as one line a second instead
#: of one line each: a join storm is tens of thousands of Zoom webhooks within minutes, whose
#: lines would all read the same and bury the ones that matter (refusals, warnings).
ROLLED_UP = frozenset({("POST", "/webhooks/zoom")})
#: Seconds a rolled-up line covers.
ROLLUP_SECONDS = 1.0


class _Tally:
    __slots__ = ("count", "slowest")

    def __init__(self, took: float) -> None:
        self.count = 1
        self.slowest = took


class AccessRollup:
    """The successful answers of :data:`ROLLED_UP` routes, counted while a second runs, then
    logged as one line per route and status, with the slowest answer of the second
    (``POST /webhooks/zoom: 4,812 answered 200 in the last second (slowest 0.021s)``). A second
    that answers nothing logs nothing. One per process: aiohttp makes an access logger for each
    connection."""

    def __init__(self) -> None:
        self._tallies: dict[tuple[str, str, int], _Tally] = {}
        self._logger: logging.Logger | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def count(self, logger: logging.Logger, key: tuple[str, str, int], took: float) -> None:
        tally = self._tallies.get(key)
        if tally is None:
            self._tallies[key] = _Tally(took)
        else:
            tally.count += 1
            if took > tally.slowest:
                tally.slowest = took
        loop = asyncio.get_running_loop()
        if self._timer is None or self._loop is not loop:
            if self._loop is not loop and self._timer is not None:
                self.flush()  # counted on a loop that has stopped (tests run one loop each)
            self._logger, self._loop = logger, loop
            self._timer = loop.call_later(ROLLUP_SECONDS, self.flush)

    def flush(self) -> None:
        """Log what was counted since the last line (at the end of each second, and when the
        service stops)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        tallies, self._tallies = self._tallies, {}
        logger = self._logger
        if logger is None:
            return
        for (method, path, status), tally in tallies.items():
            line = (
                f"{method} {path}: {tally.count:,} answered {status} in the last second "
                f"(slowest {tally.slowest:.3f}s)"
            )
            logger.handle(_record(logger, line))


#: This process's rollup.
ACCESS_ROLLUP = AccessRollup()


def _record(logger: logging.Logger, line: str) -> logging.LogRecord:
    return logging.LogRecord(logger.name, logging.INFO, __file__, 0, line, None, None)


class RedactingAccessLogger(AbstractAccessLogger):
    """One line per request; the path is redacted and its query string dropped.

    The line is redacted here, once, and its record made directly: through ``logger.info``,
    the caller lookup and the record factory (which redacted the line a second time) cost a
    sixth of the event loop under a join storm (``bench/RESULTS.md``). The other fields hold no
    secret: an address, a method token, numbers."""

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        line = (
            f'{request.remote} "{request.method} {redact(request.path_qs)}" '
            f"{response.status} {response.body_length} {time:.3f}s"
        )
        self.logger.handle(_record(self.logger, line))


class RollingUpAccessLogger(RedactingAccessLogger):
    """:class:`RedactingAccessLogger`, except that the successful answers of
    :data:`ROLLED_UP` routes (the Zoom webhook) are counted, one line a second
    (:class:`AccessRollup`); their failures still have a line each. ``tracker serve``'s default
    (``TRACKER_ACCESS_LOG_WEBHOOKS=per-second``)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        method, status = request.method, response.status
        if 200 <= status < 300 and (method, request.path) in ROLLED_UP:
            ACCESS_ROLLUP.count(self.logger, (method, request.path, status), time)
            return
        super().log(request, response, time)


async def flush_access_rollup(_app: web.Application) -> None:
    """``on_cleanup`` of a serving process: the last second's count is logged before it stops."""
    ACCESS_ROLLUP.flush()


class SecondFormatter(logging.Formatter):
    """:class:`logging.Formatter` whose ``%(asctime)s`` formats the date and time once a second
    (``time.strftime`` for every line of a storm's access log is measurable)."""

    _last: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        last = self._last
        if last[0] != second:
            last = (second, strftime(self.default_time_format, self.converter(second)))
            self._last = last
        if self.default_msec_format:
            return self.default_msec_format % (last[1], record.msecs)
        return last[1]
