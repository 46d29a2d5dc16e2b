"""Subjects and names read back whole by mail readers nobody here wrote (issue 15, point 7).

Every kind of email is sent in French and in English to a real SMTP server (aiosmtpd); the bytes
that arrived are read by Python's ``email`` package (``policy.default``) and by ``mail-parser``
(the PyPI reader, which decodes RFC 2047 like Thunderbird does). RFC 2047 6.2: the white space
between two adjacent encoded-words is ignored, so a space of the subject must travel *inside* an
encoded-word; a reader that drops it shows ``2décembre`` or ``—«``.
"""

from __future__ import annotations

from typing import Any

import mailparser
import pytest
from aiohttp.test_utils import TestClient

from tests.smtp import SmtpServer, parse
from tests.tracker.mail_kinds import (
    KINDS,
    SUBJECTS,
    build_world,
    deliver,
    kind_of,
    outbox,
    queue_every_kind,
    rename,
)
from tracker.db import Database

pytestmark = pytest.mark.any_engine

#: Titles whose spaces sit next to non-ASCII characters, where an encoded-word may end.
TITLES = {
    "quotes and dash": "Les lundis — « Santé numérique » 2 décembre",
    "long": "Médecine générale — « éthique », données de santé et intelligence artificielle "
    "en pratique quotidienne, 2 décembre",
    "non-Latin": "Семинар — « Υγεία » 数字健康 Nguyễn Thị — 2 décembre",
    "long ASCII": "Monday lectures on digital health, ethics and artificial intelligence "
    "in everyday clinical practice",
}
#: Jeanne (French) and Paul (English) renamed: names outside Windows-1252, long and short.
NAMES = {
    "jeanne": ("Łukasz Ελένη", "Żółć-Brzęczyszczykiewicz Παπαδοπούλου Nguyễn Thị Minh Khai"),
    "paul": ("Дмитрий", "王芳"),
}


def _mailparser_subject_and_name(raw: bytes) -> tuple[str, str]:
    message = mailparser.parse_from_bytes(raw)
    ((name, _address),) = message.to
    return str(message.subject), str(name)


@pytest.mark.parametrize("case", list(TITLES))
async def test_every_kind_of_subject_keeps_every_space_in_two_readers(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
    case: str,
) -> None:
    world = await build_world(client, auth)
    title = TITLES[case]
    await rename(
        database,
        world,
        title=title,
        names={world.jeanne["id"]: NAMES["jeanne"], world.paul["id"]: NAMES["paul"]},
    )

    await queue_every_kind(client, auth, database, scheduler, world)
    await deliver(database, smtp_server)
    rows = {row.message_id: row for row in await outbox(database)}

    read: dict[tuple[str, str], tuple[str, str, str]] = {}
    for raw in smtp_server.recorder.raw:
        message = parse(raw)
        (address,) = message["To"].addresses
        who = "jeanne" if address.addr_spec == "jeanne.durand@example.org" else "paul"
        kind = kind_of(rows[str(message["Message-ID"])], world)
        read[kind, who] = (str(message["Subject"]), *_mailparser_subject_and_name(raw))
    expected = {
        (kind, who): (SUBJECTS[kind, who].format(title),) * 2 + (" ".join(NAMES[who]),)
        for kind in KINDS
        for who in ("jeanne", "paul")
    }

    assert read == expected
    assert max(len(subject) for subject, _, _ in read.values()) > 78
