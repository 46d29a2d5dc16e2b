"""The delivery worker: claims due rows, hands them to the transport, records the outcome.

One message never holds up the others: whatever goes wrong with it (a refusal, an address the
server cannot take, an error nobody foresaw) is recorded on its row, with the reason, and the
worker goes on with the next one.

Rows are claimed a burst at a time, in one statement. Sent rows are recorded in the background
while the next messages go (:class:`_Settler`): one statement at most every
:data:`SETTLE_WINDOW` for all those handed over since the previous one. A process killed
mid-burst repeats (same bytes, same Message-ID) only the rows handed over in the last window and
the commit in flight, and the message in hand: on a server slower than the window (any relay
across a network), the message in hand alone; never the whole burst. Against a server on the
same machine, which takes a message in a few milliseconds, recording each one on its own cost
more than sending it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, suppress
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from notifications.addresses import (
    InvalidAddressError,
    envelope_address,
    normalise_address,
    parse_mailbox,
)
from notifications.models import OutboxMessage
from notifications.outbox import (
    LEASE,
    claim,
    mark_all_sent,
    mark_failed,
    mark_retry,
    release,
    still_mine,
)
from notifications.transports import PermanentFailure, TemporaryFailure, Transport
from schedules.clock import utcnow

log = logging.getLogger(__name__)
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]

#: How long a sent row may wait to be recorded with those sent after it (seconds).
SETTLE_WINDOW = 0.025


class DeliveryWorker:
    """``run_once`` sends what is due now; ``run`` loops until cancelled, waking on :meth:`poke`."""

    def __init__(
        self,
        sessions: Sessions,
        transport: Transport,
        *,
        sender: str,
        rate_per_second: float,
        idle_seconds: float = 2.0,
        lease: timedelta = LEASE,
    ) -> None:
        self._sessions = sessions
        self._transport = transport
        self._sender = parse_mailbox(sender).envelope  # ``Name <address>`` gives the address
        self._interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self._idle = idle_seconds
        self._wake = asyncio.Event()
        self._turn = asyncio.Lock()
        self._stopping = False
        self._lease = lease

    def stop(self) -> None:
        """Finish the message in hand, then leave :meth:`run` (no send is cut in half)."""
        self._stopping = True
        self._wake.set()

    def poke(self) -> None:
        """Something was enqueued: look now rather than at the next idle tick."""
        self._wake.set()

    async def run_once(self) -> int:
        """Send every message due now, over one connection where the transport keeps one;
        returns how many were handed over (sent or not). Calls on one worker take turns: its
        transport carries one conversation, which a round that ends closes (a second round at
        the same time had a message cut off by that close, and put back for a retry)."""
        async with self._turn:
            try:
                return await self._deliver_due()
            finally:
                close = getattr(self._transport, "close", None)
                if close is not None:
                    await close()

    async def _deliver_due(self) -> int:
        handled = 0
        settler = _Settler(self._sessions)
        try:
            while True:
                await settler.drain()  # one writer at a time (SQLite): the settle, then the claim
                async with self._sessions() as session:
                    rows = await claim(session, now=utcnow(), lease=self._lease)
                if not rows:
                    return handled
                for index, row in enumerate(rows):
                    if self._stopping:  # hand the rest back for another process, or the next start
                        await settler.drain()
                        async with self._sessions() as session:
                            await release(session, rows[index:])
                        return handled
                    if not await self._still_mine(row, settler):
                        log.info("message %s is another worker's now (lease ran out)", row.key)
                        continue
                    await self._deliver(row, settler)
                    handled += 1
                    if self._interval:
                        await asyncio.sleep(self._interval)
        finally:
            await settler.drain()

    async def _still_mine(self, row: OutboxMessage, settler: _Settler) -> bool:
        now = utcnow()
        if row.claimed_until is not None and row.claimed_until - now >= self._lease / 2:
            return True  # the common case, decided without the database
        await settler.drain()
        async with self._sessions() as session:
            return await still_mine(session, row, now=now, lease=self._lease)

    async def _deliver(self, row: OutboxMessage, settler: _Settler) -> None:
        """Send one row; a sent row goes to the settler, any other outcome is recorded now."""
        try:
            await self._send(row)
        except PermanentFailure as exc:
            log.warning("message %s to %s failed: %s", row.key, row.recipient, exc.reason)
            await settler.drain()
            async with self._sessions() as session:
                await mark_failed(session, row, reason=exc.reason)
        except TemporaryFailure as exc:
            log.info("message %s to %s will be retried: %s", row.key, row.recipient, exc.reason)
            await settler.drain()
            async with self._sessions() as session:
                await mark_retry(session, row, reason=exc.reason, now=utcnow())
        except Exception as exc:  # this message only: the others still go
            log.exception("message %s to %s failed unexpectedly", row.key, row.recipient)
            await settler.drain()
            async with self._sessions() as session:
                await mark_failed(session, row, reason=f"{type(exc).__name__}: {exc}")
        else:
            settler.sent(row.id or 0)

    async def _send(self, row: OutboxMessage) -> None:
        """Hand one row to the transport, after a last check of what it holds."""
        if not row.raw:
            raise PermanentFailure(row.last_error or "not sent: the message has no content")
        try:
            recipient = envelope_address(normalise_address(row.recipient, anywhere=True))
        except InvalidAddressError as exc:
            raise PermanentFailure(f"not sent: {exc}") from None
        await self._transport.send(row.raw, sender=self._sender, recipient=recipient)

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
            except Exception:  # the database may be away for a moment; the rows wait for us
                log.exception("delivery round failed")
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._idle)


class _Settler:
    """Records sent rows in the background, in one statement for all the rows handed over in a
    window of ``window`` seconds from the first of them, or since the previous statement began
    (a group commit): sending never waits for the database, and the rows handed over but not
    yet recorded are never more than those of a window and of the commit in flight."""

    def __init__(self, sessions: Sessions, *, window: float = SETTLE_WINDOW) -> None:
        self._sessions = sessions
        self._window = window
        self._waiting: list[int] = []
        self._task: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()  # set by drain(): record now, without waiting the window

    def sent(self, row_id: int) -> None:
        self._waiting.append(row_id)
        if self._task is not None and self._task.done():
            self._task.result()  # a failed settle stops the round (the rows wait for their lease)
            self._task = None
        if self._task is None:
            self._hurry.clear()
            self._task = asyncio.create_task(self._settle())

    async def _settle(self) -> None:
        while True:
            with suppress(TimeoutError):  # the rows handed over in the window join the statement
                async with asyncio.timeout(self._window):
                    await self._hurry.wait()
            if not self._waiting:
                return
            await self._record()

    async def drain(self) -> None:
        """Record every row handed over so far, now (before this worker's next write)."""
        task, self._task = self._task, None
        self._hurry.set()
        if task is not None:
            await task
        if self._waiting:
            await self._record()

    async def _record(self) -> None:
        row_ids, self._waiting = self._waiting, []
        async with self._sessions() as session:
            await mark_all_sent(session, row_ids, now=utcnow())
