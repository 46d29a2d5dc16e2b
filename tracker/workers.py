"""Several service processes on one port: ``tracker serve --workers N``.

The parent starts N children, each a whole ``tracker serve --reuse-port`` (its own event loop,
connection pool, scheduler and outbox worker) bound to the same address with ``SO_REUSEPORT``,
so that the kernel spreads incoming connections among them. The parent serves nothing: it
forwards SIGTERM/SIGINT, waits for the children to stop gracefully, and starts a new child
when one ends unexpectedly (a crash, an out-of-memory kill). Children that keep failing at
start-up (a port taken, a database down) end it all with an error instead of a restart loop.

Children run in a session of their own (a terminal's Ctrl-C reaches the parent alone, which
stops them once) and, on Linux, are sent SIGTERM by the kernel if the parent itself is killed.
Everything they share goes through the database (see the "Several processes" section of the
README): nothing here coordinates their work.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger(__name__)

#: A child that ends sooner than this after its start counts as a failed start.
QUICK = 10.0
#: Failed starts in a row after which the parent gives up.
GIVE_UP_AFTER = 3
#: How long stopping children may take before they are killed (their own drain is 15 s for
#: requests, 15 s for jobs, 30 s for the outbox worker's last message).
STOP_TIMEOUT = 70.0
_PR_SET_PDEATHSIG = 1


class WorkersFailedError(Exception):
    """The children keep ending at start-up; their own messages say why."""


def child_command(host: str, port: int) -> list[str]:
    """One child: this very interpreter running ``tracker serve`` alone on a shared port."""
    return [
        sys.executable,
        "-m",
        "tracker",
        "serve",
        "--workers",
        "1",
        "--reuse-port",
        "--host",
        host,
        "--port",
        str(port),
    ]


#: The C library's ``prctl`` on Linux (looked up here: between fork and exec nothing may load).
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the kernel sends this child SIGTERM when its parent dies, even by SIGKILL."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class _Child:
    number: int
    process: subprocess.Popen[bytes]
    started: float


def _start(command: Sequence[str], number: int) -> _Child:
    process = subprocess.Popen(list(command), start_new_session=True, preexec_fn=_die_with_parent)
    log.info("worker %d started (pid %d)", number, process.pid)
    return _Child(number, process, time.monotonic())


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def supervise(command: Sequence[str], count: int, *, stop_timeout: float = STOP_TIMEOUT) -> None:
    """Run ``count`` children of ``command`` until SIGTERM or SIGINT, restarting any that ends;
    raises :class:`WorkersFailedError` when children keep failing right after their start."""
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            log.info("%s: stopping %d workers", signal.Signals(signum).name, count)
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    children: list[_Child] = []
    try:
        children = [_start(command, number) for number in range(1, count + 1)]
        failed_starts = 0
        while not stopping:
            time.sleep(0.2)
            for index, child in enumerate(children):
                code = child.process.poll()
                if code is None or stopping:
                    continue
                lived = time.monotonic() - child.started
                failed_starts = failed_starts + 1 if lived < QUICK else 0
                if failed_starts >= GIVE_UP_AFTER:
                    raise WorkersFailedError(
                        f"workers keep ending at start-up ({_describe(code)}); see their "
                        "messages above"
                    )
                log.warning(
                    "worker %d (pid %d) ended with %s after %.0f s; starting another",
                    child.number,
                    child.process.pid,
                    _describe(code),
                    lived,
                )
                children[index] = _start(command, child.number)
    finally:
        _stop(children, stop_timeout)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop(children: list[_Child], timeout: float) -> None:
    """SIGTERM to every child still running, SIGKILL to those still running after ``timeout``."""
    running = [c.process for c in children if c.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("worker pid %d did not stop within %.0f s; killing it", process.pid, timeout)
            process.kill()
            process.wait()
