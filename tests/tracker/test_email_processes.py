"""Real service processes against one database: every outbox key is sent once, even when one
process is killed with SIGKILL in the middle of a queue."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import col, func, select

from notifications.compose import Rendered, build_message
from notifications.models import OutboxMessage
from notifications.outbox import enqueue
from tests.processes import serve, stop
from tests.smtp import SmtpServer
from tracker.db import Database


async def _queue(database: Database, count: int) -> list[str]:
    now = datetime.now(UTC)
    async with database.session() as session:
        for n in range(count):
            message = build_message(
                Rendered(f"Message {n}", f"Body {n}\n", f"<p>Body {n}</p>"),
                sender="webinars@cme.example.org",
                recipient=f"p{n}@example.org",
                domain="cme.example.org",
                now=now,
            )
            await enqueue(session, key=f"test:{n}", kind="test", message=message, now=now)
        await session.commit()
        rows = await session.exec(select(OutboxMessage.message_id))
        return list(rows.all())


def _serve(database_url: str, smtp: SmtpServer, cwd: Path) -> subprocess.Popen[bytes]:
    return serve(
        cwd,
        database_url=database_url,
        smtp_url=smtp.url,
        scheduler="on",
        mail_rate="0",
        outbox_lease_seconds="5",
    )


async def _sent(database: Database) -> int:
    async with database.session() as session:
        query = (
            select(func.count())
            .select_from(OutboxMessage)
            .where(col(OutboxMessage.status) == "sent")
        )
        return int((await session.exec(query)).one())


async def _wait_until(
    count: int, database: Database, smtp: SmtpServer, *, within: float = 60
) -> None:
    """Poll the real processes' progress (they run on the real clock, not a test's)."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if await _sent(database) >= count:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"only {await _sent(database)} of {count} sent in {within} s")


async def test_two_service_processes_send_every_key_exactly_once(
    database: Database, database_url: str, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    expected = await _queue(database, 40)
    smtp_server.recorder.delay = 0.02
    processes = [_serve(database_url, smtp_server, tmp_path) for _ in range(2)]
    try:
        await _wait_until(40, database, smtp_server)
    finally:
        for process in processes:
            stop(process)

    assert sorted(smtp_server.recorder.message_ids()) == sorted(expected)


async def test_kill_9_mid_queue_loses_nothing_and_repeats_only_the_message_in_hand(
    database: Database, database_url: str, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    expected = await _queue(database, 12)
    smtp_server.recorder.delay = 0.3
    first = _serve(database_url, smtp_server, tmp_path)
    try:
        await _wait_until(3, database, smtp_server)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    second = _serve(database_url, smtp_server, tmp_path)
    try:
        await _wait_until(12, database, smtp_server)
    finally:
        stop(second)

    received = Counter(smtp_server.recorder.message_ids())
    assert set(received) == set(expected)
    assert sum(received.values()) - len(received) <= 1  # at most the one being handed over
