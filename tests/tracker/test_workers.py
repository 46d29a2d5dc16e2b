"""``tracker serve --workers N``: N real processes on one port, supervised by their parent."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.processes import TRACKER, environment
from tests.smtp import free_port

ON_POSTGRESQL = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def run(args: list[str], cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRACKER, *args],
        cwd=cwd,
        env=environment(**settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


def children(parent: int) -> set[int]:
    """The pids whose parent is ``parent`` (read from /proc, as ``ps --ppid`` does)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        fields = text.rsplit(")", 1)[1].split()  # after "(command)", which may hold spaces
        if int(fields[1]) == parent and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {within} s")


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_several_workers_on_sqlite_are_refused_in_one_line(tmp_path: Path) -> None:
    result = run(
        ["serve", "--workers", "2"],
        tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/tracker.db",
    )

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: 2 workers need PostgreSQL: an SQLite database serves one process (use "
        "--workers 1, or TRACKER_DATABASE_URL=postgresql+asyncpg://...)"
    )


def test_the_workers_setting_is_checked_in_one_line(tmp_path: Path) -> None:
    result = run(["serve"], tmp_path, workers="0")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: configuration error: TRACKER_WORKERS: Input should be greater than or equal to 1"
    )


@ON_POSTGRESQL
def test_workers_refuse_a_port_held_by_another_program_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = run(
            ["serve", "--workers", "2", "--port", str(port)], tmp_path, database_url=database_url
        )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


@ON_POSTGRESQL
def test_two_workers_share_one_port_a_killed_one_is_replaced_and_sigterm_stops_all(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    parent = subprocess.Popen(
        [TRACKER, "serve"],
        cwd=tmp_path,
        env=environment(database_url=database_url, port=str(port), workers="2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        until(lambda: len(_listeners(port)) == 2 and healthy(port), 60, "two workers")
        first = children(parent.pid)
        listening = {int(line.split()[0]) for line in _listeners(port)}
        victim = min(first)

        subprocess.run(["kill", "-KILL", str(victim)], check=True)
        answers = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            victim in children(parent.pid) or len(_listeners(port)) < 2
        ):
            # the other worker answers meanwhile; a connection the kernel had handed to the
            # dying one is reset, and its retry answered (as a client or proxy retries)
            answers.append(healthy(port) or healthy(port))
            time.sleep(0.05)
        replaced = children(parent.pid)
        relistening = {int(line.split()[0]) for line in _listeners(port)}
    finally:
        parent.send_signal(signal.SIGTERM)
        output, _ = parent.communicate(timeout=90)

    assert listening == first and len(first) == 2  # the children listen; the parent does not
    assert relistening == replaced and victim not in replaced and first - {victim} < replaced
    assert len(answers) > 3 and all(answers)
    assert parent.returncode == 0, output
    assert f"worker 1 (pid {victim}) ended with signal SIGKILL" in output or (
        f"worker 2 (pid {victim}) ended with signal SIGKILL" in output
    )
    assert "Traceback" not in output, output
    until(lambda: not children(parent.pid), 5, "no child left")


def _listeners(port: int) -> list[str]:
    """``pid fd`` of each socket listening on ``port`` (from /proc/net/tcp and /proc/PID/fd)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:  # 0A: LISTEN
            inodes.add(fields[9])
    found = []
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = fd.readlink()
        except OSError:
            continue
        if str(target).startswith("socket:[") and str(target)[8:-1] in inodes:
            found.append(f"{fd.parent.parent.name} {fd.name}")
    return found


@ON_POSTGRESQL
def test_workers_end_when_their_parent_is_killed(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    parent = subprocess.Popen(
        [TRACKER, "serve"],
        cwd=tmp_path,
        env=environment(database_url=database_url, port=str(port), workers="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        until(lambda: len(_listeners(port)) == 2, 60, "two workers")
        workers = children(parent.pid)
    finally:
        parent.kill()
        parent.wait(timeout=10)

    until(lambda: not any(_alive(pid) for pid in workers), 60, "the workers gone")
    assert len(workers) == 2
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    """Running (a zombie that no init has reaped yet is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")
