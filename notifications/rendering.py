"""Certificate PDFs rendered beside the event loop, in a small pool of worker processes.

A certificate's PDF is pure CPU work in Python (ReportLab: 2.5 ms each on the development
machine, bench/RESULTS.md). Rendered on the event loop, a programme's 42,000 certificates would
hold the loop some 105 s in all, 2.5 ms at a time, while the same process answers Zoom's
webhooks and pages. A thread would not help (the GIL); a process does: :class:`ProcessRenderer`
hands each batch's documents, as plain data (:class:`~notifications.pdf.CertificateData`), to
``workers`` processes started with ``forkserver`` (the service has threads: ``fork`` could copy
a lock held by one of them) and yields the PDFs in order as they come back, so that the caller
composes the first emails while the next PDFs are drawn on the other core.

Each worker registers the fonts once, when it starts, and watches the service: a service killed
without a chance to stop the pool (SIGKILL) does not leave a worker behind. A worker that dies
(killed, out of memory) breaks the pool: the documents not yet rendered are then drawn here, on
the event loop, as without a pool, with a warning in the log, and the next batch starts a new
pool. A document that fails to render comes back as ``None``: the caller draws it again itself,
so that the failure is reported where it was reported before (the email's outbox row).

:data:`INLINE` renders on the event loop, yielding to it between documents: the CLI's commands
and the tests, which issue a few certificates, use it (no process to start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import AsyncGenerator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from notifications.pdf import CertificateData, certificate_pdf, load_fonts

log = logging.getLogger(__name__)

#: Documents a worker renders per task: enough that a task's hand-over (pickling 14 KB a PDF
#: back) is small beside its work, few enough that the first emails are composed early.
CHUNK = 8

#: Worker processes by default: one core left to the event loop, at most two (a worker holds
#: some 85 MB once it has drawn, 60 MB of it its own), none on one core.
PDF_WORKERS = max(0, min(2, (os.cpu_count() or 1) - 1))


class Renderer(Protocol):
    """Draws certificates: ``render`` yields one PDF (or ``None``: it could not be drawn) per
    document, in order."""

    def render(
        self, documents: Sequence[CertificateData]
    ) -> AsyncGenerator[bytes | None, None]: ...


async def _inline(documents: Sequence[CertificateData]) -> AsyncGenerator[bytes | None, None]:
    for document in documents:
        yield _drawn(document)
        await asyncio.sleep(0)  # a PDF takes a while: let the loop breathe


def _drawn(document: CertificateData) -> bytes | None:
    try:
        return certificate_pdf(document)
    except Exception:  # the caller draws it again and reports why it failed
        return None


class InlineRenderer:
    """Renders on the event loop (no process to start): for a few certificates."""

    def render(self, documents: Sequence[CertificateData]) -> AsyncGenerator[bytes | None, None]:
        return _inline(documents)


INLINE = InlineRenderer()


def _watch_parent() -> None:
    """Ends this worker once the process that started it has ended, however it ended. Its
    parent in the process tree is the fork server, which waits for the workers to end before
    it does (they hold the pipe whose closing tells it to): ``parent_process()`` is the service
    itself, through a pipe only the service holds open."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
    os._exit(0)


def _start_worker() -> None:
    """A worker's start: the fonts registered once, deaf to the signals that stop the service
    (Ctrl-C reaches the whole process group, a service manager's SIGTERM often every process of
    the service: the service stops its workers itself, after the batch in hand), and a watch on
    the service, should it be killed without the chance to stop them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, name="watch-parent", daemon=True).start()
    load_fonts()


def _ready() -> None:
    """Nothing: a task that returns once its worker has started."""
    time.sleep(0.05)  # long enough that each worker of the pool gets one


def _render_chunk(documents: Sequence[CertificateData]) -> list[bytes | None]:
    return [_drawn(document) for document in documents]


class ProcessRenderer:
    """Renders in ``workers`` processes, started with the first batch and stopped by
    :meth:`close`."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"a process renderer needs at least one worker, not {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._starting = asyncio.Lock()
        self._closed = False

    async def start(self) -> None:
        """Starts the workers now (else the first batch does), and waits until each has its
        fonts."""
        await self._started()
        ready = [self._executor().submit(_ready) for _ in range(self.workers)]
        await asyncio.gather(*map(asyncio.wrap_future, ready))

    async def _started(self) -> ProcessPoolExecutor:
        """The pool, its workers started in a thread: starting a worker waits for the fork
        server, which imports the service's modules when it starts (a second or more), and
        the event loop has better things to do meanwhile."""
        async with self._starting:
            if self._pool is not None:
                return self._pool
            pool = self._executor()
            await asyncio.to_thread(lambda: [pool.submit(_ready) for _ in range(self.workers)])
            return pool

    def pids(self) -> list[int]:
        """The workers' process ids (for accounting their CPU time)."""
        pool = self._pool
        return list(pool._processes) if pool is not None else []

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_start_worker,
            )
        return self._pool

    async def render(
        self, documents: Sequence[CertificateData]
    ) -> AsyncGenerator[bytes | None, None]:
        if self._closed:
            raise RuntimeError("this renderer was closed")
        chunks = [documents[i : i + CHUNK] for i in range(0, len(documents), CHUNK)]
        try:
            pool = await self._started()
        except Exception:  # no process to be had (out of memory, out of processes)
            log.exception("could not start a certificate worker: drawing this batch here")
            self._discard(self._pool)
            async for pdf in _inline(documents):
                yield pdf
            return
        futures: list[Future[list[bytes | None]]] = []
        try:
            for chunk in chunks:
                try:
                    futures.append(pool.submit(_render_chunk, chunk))
                except BrokenProcessPool:  # a worker died already: the rest is drawn here
                    break
            for n, chunk in enumerate(chunks):
                pdfs: list[bytes | None] | None = None
                if n < len(futures):
                    with contextlib.suppress(BrokenProcessPool):
                        pdfs = await asyncio.wrap_future(futures[n])
                if pdfs is None:
                    self._broken(pool)
                    async for pdf in _inline(chunk):
                        yield pdf
                    continue
                for pdf in pdfs:
                    yield pdf
        finally:
            for future in futures:  # a caller that stopped early: drop what was not started
                future.cancel()

    def _broken(self, pool: ProcessPoolExecutor) -> None:
        """A worker died: this batch is drawn here, the next one gets a new pool."""
        if self._pool is pool:
            log.warning("a certificate worker process died: drawing this batch in the service")
            self._discard(pool)

    def _discard(self, pool: ProcessPoolExecutor | None) -> None:
        if pool is not None and self._pool is pool:
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stops the workers (a task in hand is finished first: a few PDFs, some 20 ms)."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def renderer(workers: int) -> Renderer:
    """``workers`` processes, or the event loop itself for 0."""
    return ProcessRenderer(workers) if workers > 0 else INLINE
