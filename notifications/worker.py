"""The delivery worker: claims due rows, hands them to the transport, records the outcome.

One message never holds up the others: whatever goes wrong with it (a refusal, an address the
server cannot take, an error nobody foresaw) is recorded on its row, with the reason, and the
worker goes on with the next one.
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
    mark_failed,
    mark_retry,
    mark_sent,
    release,
    still_mine,
)
from notifications.transports import PermanentFailure, TemporaryFailure, Transport
from schedules.clock import utcnow

log = logging.getLogger(__name__)
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


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
        returns how many were handed over (sent or not)."""
        try:
            return await self._deliver_due()
        finally:
            close = getattr(self._transport, "close", None)
            if close is not None:
                await close()

    async def _deliver_due(self) -> int:
        handled = 0
        while True:
            async with self._sessions() as session:
                rows = await claim(session, now=utcnow(), lease=self._lease)
            if not rows:
                return handled
            for index, row in enumerate(rows):
                if self._stopping:  # hand the rest back for another process, or the next start
                    async with self._sessions() as session:
                        await release(session, rows[index:])
                    return handled
                async with self._sessions() as session:
                    if not await still_mine(session, row, now=utcnow(), lease=self._lease):
                        log.info("message %s is another worker's now (lease ran out)", row.key)
                        continue
                    try:
                        await self._send(row)
                    except PermanentFailure as exc:
                        log.warning(
                            "message %s to %s failed: %s", row.key, row.recipient, exc.reason
                        )
                        await mark_failed(session, row, reason=exc.reason)
                    except TemporaryFailure as exc:
                        log.info(
                            "message %s to %s will be retried: %s",
                            row.key,
                            row.recipient,
                            exc.reason,
                        )
                        await mark_retry(session, row, reason=exc.reason, now=utcnow())
                    except Exception as exc:  # this message only: the others still go
                        log.exception(
                            "message %s to %s failed unexpectedly", row.key, row.recipient
                        )
                        await mark_failed(session, row, reason=f"{type(exc).__name__}: {exc}")
                    else:
                        await mark_sent(session, row, now=utcnow())
                handled += 1
                if self._interval:
                    await asyncio.sleep(self._interval)

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
