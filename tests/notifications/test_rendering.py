"""Certificate PDFs drawn in worker processes (``TRACKER_PDF_WORKERS``) read back as those the
event loop draws; a worker that dies costs time, not certificates (its batch is drawn in the
service, the next batch gets a new worker); closing the renderer, or killing the process that
started it, leaves no process behind."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from notifications import rendering
from notifications.pdf import CertificateData
from notifications.rendering import INLINE, ProcessRenderer, Renderer
from tests.notifications.test_pdf_cuts import BASE
from tests.pdf_tools import pdffonts, pdftotext, qr_codes
from tests.processes import descendants, still_running


@pytest.fixture
async def pdfs() -> AsyncIterator[ProcessRenderer]:
    renderer = ProcessRenderer(1)
    try:
        yield renderer
    finally:
        renderer.close()


def _certificate(n: int, name: str = "Łukasz Żółć") -> CertificateData:
    code = f"FGH4KZ7-JDQPEZM-DI7DTXE-{n:07d}"
    return dataclasses.replace(
        BASE,
        physician_name=f"{name} {n}",
        code_line=f"Verification code: {code}",
        verify_url=f"https://cme.example.org/certificates/{code}",
    )


async def _drawn(pdfs: Renderer, documents: list[CertificateData]) -> list[bytes | None]:
    return [pdf async for pdf in pdfs.render(documents)]


async def test_pdfs_drawn_in_a_worker_read_back_as_those_drawn_on_the_loop(
    pdfs: ProcessRenderer,
) -> None:
    documents = [_certificate(n) for n in range(11)] + [_certificate(11, name="王芳")]

    there = await _drawn(pdfs, documents)
    here = await _drawn(INLINE, documents)

    assert all(there)
    assert [pdftotext(pdf or b"") for pdf in there] == [pdftotext(pdf or b"") for pdf in here]
    assert [pdffonts(pdf or b"") for pdf in there] == [pdffonts(pdf or b"") for pdf in here]
    assert [qr_codes(pdf or b"") for pdf in there[-2:]] == [[d.verify_url] for d in documents[-2:]]
    assert len(pdfs.pids()) == 1


async def test_a_worker_killed_mid_batch_costs_no_certificate_and_the_next_batch_gets_another(
    pdfs: ProcessRenderer, caplog: pytest.LogCaptureFixture
) -> None:
    documents = [_certificate(n) for n in range(40)]
    await _drawn(pdfs, documents[:1])
    (first,) = pdfs.pids()

    with caplog.at_level(logging.WARNING, logger="notifications.rendering"):
        drawing = pdfs.render(documents)
        drawn = [await anext(drawing)]
        os.kill(first, signal.SIGKILL)
        drawn += [pdf async for pdf in drawing]
    again = await _drawn(pdfs, documents[:3])

    assert [pdftotext(pdf or b"")[2] for pdf in drawn] == [d.physician_name for d in documents]
    assert [r.getMessage() for r in caplog.records] == [
        "a certificate worker process died: drawing this batch in the service"
    ]
    assert all(again)
    assert len(pdfs.pids()) == 1 and pdfs.pids() != [first]


async def test_a_worker_that_cannot_be_started_costs_no_certificate(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_process(**_: object) -> object:
        raise OSError(11, "Resource temporarily unavailable")  # fork's EAGAIN

    monkeypatch.setattr(rendering, "ProcessPoolExecutor", no_process)
    pdfs = ProcessRenderer(1)
    documents = [_certificate(n) for n in range(3)]

    with caplog.at_level(logging.ERROR, logger="notifications.rendering"):
        drawn = await _drawn(pdfs, documents)

    assert [pdftotext(pdf or b"")[2] for pdf in drawn] == [d.physician_name for d in documents]
    assert [r.getMessage() for r in caplog.records] == [
        "could not start a certificate worker: drawing this batch here"
    ]
    assert pdfs.pids() == []


@pytest.mark.parametrize("where", ["worker", "loop"])
async def test_a_document_that_cannot_be_drawn_comes_back_empty_and_the_others_drawn(
    pdfs: ProcessRenderer, where: str
) -> None:
    """The caller draws it again to say why (the certificate email's outbox row)."""
    broken = dataclasses.replace(_certificate(1), physician_name=None)  # type: ignore[arg-type]
    documents = [_certificate(0), broken, _certificate(2)]

    drawn = await _drawn(pdfs if where == "worker" else INLINE, documents)

    assert [pdf is None for pdf in drawn] == [False, True, False]


async def test_closing_the_renderer_stops_its_workers(pdfs: ProcessRenderer) -> None:
    await pdfs.start()
    workers = set(pdfs.pids())

    pdfs.close()

    assert len(workers) == 1
    assert still_running(workers, within=5) == set()
    with pytest.raises(RuntimeError):
        await _drawn(pdfs, [_certificate(0)])


def test_a_worker_outlives_no_killed_service(tmp_path: Path) -> None:
    """SIGKILL gives the service no chance to stop its workers: they leave by themselves."""
    script = tmp_path / "service.py"
    script.write_text(
        "import asyncio, sys, time\n"
        "from notifications.rendering import ProcessRenderer\n"
        "async def main() -> None:\n"
        "    pdfs = ProcessRenderer(2)\n"
        "    await pdfs.start()\n"
        "    print(*pdfs.pids(), flush=True)\n"
        "    time.sleep(60)\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    with subprocess.Popen(
        [sys.executable, str(script)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the resource tracker's word on the semaphores left
        text=True,
    ) as service:
        try:
            assert service.stdout is not None
            workers = set(map(int, service.stdout.readline().split()))
            started = descendants(service.pid)  # the workers, the fork server, its tracker
        finally:
            service.send_signal(signal.SIGKILL)
            service.wait(timeout=10)

    assert len(workers) == 2 and workers < started
    assert still_running(started, within=10) == set()
