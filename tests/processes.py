"""Real ``tracker serve`` processes for the tests that stop, kill and restart them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.smtp import free_port

TRACKER = str(Path(sys.executable).with_name("tracker"))


def environment(**settings: str) -> dict[str, str]:
    """This process's environment with these settings only (``database_url="..."`` becomes
    ``TRACKER_DATABASE_URL``): the developer's own ``TRACKER_*`` variables are left out."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    return kept | {f"TRACKER_{name.upper()}": value for name, value in settings.items()}


def serve(cwd: Path, *args: str, **settings: str) -> subprocess.Popen[bytes]:
    """``tracker serve ARGS`` in ``cwd`` with these settings only (see :func:`environment`), on
    a free port unless ``port`` is given; its output is dropped."""
    return subprocess.Popen(
        [TRACKER, "serve", *args],
        cwd=cwd,
        env=environment(**{"port": str(free_port())} | settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def serve_logged(log: Path, cwd: Path, *args: str, **settings: str) -> subprocess.Popen[bytes]:
    """:func:`serve`, its output (the access log too) appended to ``log``."""
    with open(log, "ab") as output:  # the child has its own copy of the file once started
        return subprocess.Popen(
            [TRACKER, "serve", *args],
            cwd=cwd,
            env=environment(**{"port": str(free_port())} | settings),
            stdout=output,
            stderr=output,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a service manager stops it, and wait for the end."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def descendants(parent: int) -> set[int]:
    """Every process ``parent`` started, or one of those did (read from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    found, grown = {parent}, True
    while grown:
        more = {pid for pid, up in parents.items() if up in found} - found
        found |= more
        grown = bool(more)
    return found - {parent}


def _ended(pid: int) -> bool:
    """Ended: reaped, or a zombie waiting for its parent."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return text.rsplit(")", 1)[1].split()[0] == "Z"


def still_running(pids: set[int], *, within: float) -> set[int]:
    """Those of ``pids`` still running after up to ``within`` seconds (empty: all ended)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(map(_ended, pids)):
            return set()
        time.sleep(0.05)
    return {pid for pid in pids if not _ended(pid)}
