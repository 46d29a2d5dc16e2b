"""The migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, insert, inspect, text
from sqlmodel import SQLModel

import tracker.domain.models  # noqa: F401  # registers every table
from tests.factories import ended_session
from tests.processes import TRACKER, environment
from tracker.db import Database
from tracker.domain.models import Physician
from tracker.errors import DuplicateIdentifiersError
from tracker.migrate import alembic_config, upgrade


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)

    assert differences == []


async def test_upgrade_twice_is_harmless_and_seeds_credit_types_once(database: Database) -> None:
    await upgrade(database.url)

    async with database.engine.connect() as connection:
        codes = (
            (await connection.execute(text("SELECT code FROM credit_type ORDER BY code")))
            .scalars()
            .all()
        )

    assert codes == ["ABIM_MOC", "AMA_PRA_1", "DPC_HOURS", "SMC_HOURS"]


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def _close(database: Database, occurrence_id: int, *, final: list[bool]) -> None:
    """A closure as revision 0006 wrote it, with one award per entry of ``final``."""
    async with database.engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO occurrence_closure (occurrence_id, closed_at) VALUES (:o, :at)"),
            {"o": occurrence_id, "at": datetime(2026, 11, 2, 16, 0, tzinfo=UTC)},
        )
        physicians = (await connection.execute(text("SELECT id FROM physician"))).scalars()
        for physician_id, is_final in zip(physicians, final, strict=False):
            await connection.execute(
                text(
                    "INSERT INTO award (occurrence_id, physician_id, seconds, credits, "
                    "anomalies, final, version, computed_at) "
                    "VALUES (:o, :p, 3600, '{}', '[]', :final, 1, :at)"
                ),
                {
                    "o": occurrence_id,
                    "p": physician_id,
                    "final": is_final,
                    "at": datetime(2026, 11, 2, 16, 0, tzinfo=UTC),
                },
            )


async def test_migration_0007_leaves_a_half_finalised_closure_for_the_planner(
    database: Database,
) -> None:
    # The sessions are made with today's models, then the schema goes back to 0006 (a
    # series as 0006 stored it cannot be written with today's model, which has more columns).
    ended = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    done = await ended_session(database, 2, ended=ended)
    half = await ended_session(database, 0, ended=ended + timedelta(days=7))
    async with database.engine.begin() as connection:
        await connection.run_sync(_downgrade, "0006")
    await _close(database, done, final=[True, True])
    await _close(database, half, final=[True, False])

    await upgrade(database.url)

    async with database.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT occurrence_id, completed_at FROM occurrence_closure")
        )
        completed = {occurrence: at is not None for occurrence, at in rows}
    assert completed == {done: True, half: False}


async def test_migration_0012_gives_every_physician_their_own_feed_key(database: Database) -> None:
    # made with today's models first (a series as 0011 stored it cannot be written with them)
    await ended_session(database, 3, ended=datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    async with database.engine.begin() as connection:
        await connection.run_sync(_downgrade, "0011")

    await upgrade(database.url)

    async with database.engine.connect() as connection:
        keys = (await connection.execute(text("SELECT feed_secret FROM physician"))).scalars().all()
    assert len(keys) == len(set(keys)) == 3
    assert all(key.startswith("cal_") and len(key) >= 4 + 43 for key in keys)


async def test_migration_0015_seeds_the_regimes_and_its_downgrade_keeps_every_session(
    database: Database,
) -> None:
    await ended_session(database, 3, ended=datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    counts = "SELECT (SELECT count(*) FROM occurrence), (SELECT count(*) FROM attendance_event)"
    async with database.engine.connect() as connection:
        before = (await connection.execute(text(counts))).one()
    async with database.engine.begin() as connection:
        await connection.run_sync(_downgrade, "0012")
    async with database.engine.connect() as connection:
        downgraded = (await connection.execute(text(counts))).one()

    await upgrade(database.url)

    async with database.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT code, regime FROM credit_type"))).all()
        regimes: dict[str, str | None] = {code: regime for code, regime in rows}
        after = (await connection.execute(text(counts))).one()
    assert before == downgraded == after and before[1] > 0
    assert regimes == {"ABIM_MOC": None, "AMA_PRA_1": "ama", "DPC_HOURS": "dpc", "SMC_HOURS": "smc"}


async def test_migration_0020_keeps_the_registrants_and_the_email_zoom_holds(
    database: Database,
) -> None:
    occurrence = await ended_session(database, 2, ended=datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    async with database.engine.begin() as connection:
        await connection.run_sync(_downgrade, "0019")
        series_id = (
            await connection.execute(
                text("SELECT series_id FROM occurrence WHERE id = :id"), {"id": occurrence}
            )
        ).scalar_one()
        await connection.execute(
            text(
                "INSERT INTO zoom_registrant (series_id, physician_id, zoom_webinar_id, state, "
                "registrant_id, join_url, attempts, updated_at) SELECT :series, id, '81234567890', "
                "'added', 'reg' || id, 'https://zoom.us/w/1?tk=' || id, 0, :now FROM physician"
            ),
            {"series": series_id, "now": datetime(2026, 11, 1, tzinfo=UTC)},
        )

    await upgrade(database.url)

    async with database.engine.begin() as connection:
        kept = (
            await connection.execute(
                text(
                    "SELECT r.registrant_id, r.email = p.email, r.last_name = p.last_name "
                    "FROM zoom_registrant r JOIN physician p ON p.id = r.physician_id ORDER BY r.id"
                )
            )
        ).all()
        await connection.execute(text("DELETE FROM physician"))
        orphans = (
            await connection.execute(text("SELECT physician_id, email FROM zoom_registrant"))
        ).all()
    assert [(rid[:3], same_email, same_name) for rid, same_email, same_name in kept] == [
        ("reg", True, True),
        ("reg", True, True),
    ]
    assert [pid for pid, _ in orphans] == [None, None]  # kept to be cancelled at Zoom
    assert all(email for _, email in orphans)


async def _labels(database: Database) -> dict[str, tuple[str, object]]:
    async with database.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT code, label, labels FROM credit_type"))).all()
    return {
        code: (label, json.loads(labels) if isinstance(labels, str) else labels)
        for code, label, labels in rows
    }


async def test_migration_0021_gives_the_seeded_credit_types_a_label_per_language(
    database: Database,
) -> None:
    labels = await _labels(database)

    assert labels == {
        "AMA_PRA_1": (
            "AMA PRA Category 1 Credit(s)™",
            {"fr": "AMA PRA Category 1 Credit(s)™", "en": "AMA PRA Category 1 Credit(s)™"},
        ),
        "ABIM_MOC": ("ABIM MOC points", {"fr": "points MOC de l'ABIM", "en": "ABIM MOC points"}),
        "DPC_HOURS": ("heures DPC", {"fr": "heures DPC", "en": "DPC hours"}),
        "SMC_HOURS": (
            "SMC credit hours",
            {"fr": "heures de crédit SMC", "en": "SMC credit hours"},
        ),
    }


async def test_migration_0021_downgrade_drops_the_labels_and_keeps_every_type(
    database: Database,
) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO credit_type (code, label, labels, unit, rounding) "
                "VALUES ('BOARD_X', 'board X hours', '{}', 'hours', 'quarter')"
            )
        )
        await connection.run_sync(_downgrade, "0020")
    async with database.engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: [c["name"] for c in inspect(sync).get_columns("credit_type")]
        )
        kept = (
            await connection.execute(text("SELECT code, label FROM credit_type ORDER BY code"))
        ).all()

    await upgrade(database.url)

    assert "labels" not in columns
    assert [tuple(row) for row in kept] == [
        ("ABIM_MOC", "ABIM MOC points"),
        ("AMA_PRA_1", "AMA PRA Category 1 Credit(s)™"),
        ("BOARD_X", "board X hours"),
        ("DPC_HOURS", "heures DPC"),
        ("SMC_HOURS", "SMC credit hours"),
    ]
    again = await _labels(database)
    assert again["DPC_HOURS"] == ("heures DPC", {"fr": "heures DPC", "en": "DPC hours"})
    assert again["BOARD_X"] == ("board X hours", {})  # one label only: the fallback


def _physician(n: int, *, npi: str | None = None, rpps: str | None = None) -> dict[str, object]:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    return {
        "first_name": f"P{n}",
        "last_name": "Durand",
        "email": f"p{n}@example.org",
        "timezone": "UTC",
        "language": "fr",
        "npi": npi,
        "rpps": rpps,
        "board_ids": {},
        "consent_board_reporting": True,
        "token_hash": f"{n:064d}",
        "feed_secret": f"cal_{n}",
        "token_generation": 1,
        "created_at": at,
        "updated_at": at,
    }


async def _before_0022_with(database: Database, rows: list[dict[str, object]]) -> None:
    """The schema back before 0022 (no unique NPI or RPPS), holding these physicians."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_downgrade, _BEFORE_0022)
        await connection.execute(insert(Physician.__table__), rows)  # type: ignore[attr-defined]


async def _physicians(database: Database) -> list[tuple[object, ...]]:
    async with database.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id, email, npi, rpps FROM physician ORDER BY id")
        )
        return [tuple(row) for row in rows]


async def test_migration_0022_refuses_shared_identifiers_naming_their_physicians_and_changes_nothing(
    database: Database,
) -> None:
    await _before_0022_with(
        database,
        [
            _physician(1, npi="1234567893"),
            _physician(2, npi="1234567893", rpps="10001234567"),
            _physician(3, rpps="10001234567"),
            _physician(4, npi="1245319599"),
            _physician(5),
            _physician(6),
        ],
    )
    before = await _physicians(database)

    with pytest.raises(DuplicateIdentifiersError) as refused:
        await upgrade(database.url)

    ids = [row[0] for row in before]
    assert str(refused.value) == (
        "cannot make NPI and RPPS numbers unique, physicians share them: "
        f"NPI 1234567893: physician {ids[0]} <p1@example.org>, physician {ids[1]} <p2@example.org>; "
        f"RPPS number 10001234567: physician {ids[1]} <p2@example.org>, "
        f"physician {ids[2]} <p3@example.org>; keep the number on the one physician it identifies "
        "(clear or correct it on the others, PATCH /api/physicians/{id}), then run "
        "`tracker db upgrade` again"
    )
    assert await _physicians(database) == before
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_revision) == _BEFORE_0022


async def test_db_upgrade_over_shared_identifiers_says_so_in_one_line(
    database: Database, tmp_path: Path
) -> None:
    await _before_0022_with(
        database, [_physician(1, npi="1234567893"), _physician(2, npi="1234567893")]
    )

    result = await asyncio.to_thread(
        subprocess.run,
        [TRACKER, "db", "upgrade"],
        cwd=tmp_path,
        env=environment(database_url=database.url),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (result.returncode, result.stdout) == (1, "")
    assert "Traceback" not in result.stderr  # alembic's INFO lines come first, then the error
    line = result.stderr.splitlines()[-1]
    assert line.startswith(
        "Error: cannot make NPI and RPPS numbers unique, physicians share them: "
    )
    assert "<p1@example.org>" in line and "<p2@example.org>" in line


async def test_migration_0022_goes_through_once_the_shared_numbers_are_fixed(
    database: Database,
) -> None:
    await _before_0022_with(
        database, [_physician(1, npi="1234567893"), _physician(2, npi="1234567893"), _physician(3)]
    )
    with pytest.raises(DuplicateIdentifiersError):
        await upgrade(database.url)
    async with database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE physician SET npi = NULL WHERE email = 'p2@example.org'")
        )

    await upgrade(database.url)

    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []
    assert [row[2] for row in await _physicians(database)] == ["1234567893", None, None]


async def test_migration_0022_leaves_any_number_of_physicians_without_identifiers(
    database: Database,
) -> None:
    await _before_0022_with(database, [_physician(n) for n in range(1, 4)])

    await upgrade(database.url)

    assert [row[2:] for row in await _physicians(database)] == [(None, None)] * 3


#: The revision a refused 0022 leaves the database at (whatever 0022 comes after).
_BEFORE_0022 = str(ScriptDirectory.from_config(alembic_config()).get_revision("0022").down_revision)


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _at_0022_with(database: Database, rows: list[dict[str, object]]) -> int:
    """The schema back at 0022 holding these physicians, and a self-registration whose first
    name holds a right-to-left override (to a series of an ended session): its id."""
    occurrence_id = await ended_session(database, 0, ended=datetime(2026, 11, 2, tzinfo=UTC))
    async with database.engine.begin() as connection:
        series_id = (
            await connection.execute(
                text("SELECT series_id FROM occurrence WHERE id = :id"), {"id": occurrence_id}
            )
        ).scalar_one()
        await connection.execute(insert(Physician.__table__), rows)  # type: ignore[attr-defined]
        await connection.execute(
            text(
                "INSERT INTO self_registration (series_id, email, first_name, last_name, "
                "language, timezone, consent_board_reporting, status, expires_at, created_at) "
                "VALUES (:s, 'r@example.org', :first, 'Roux', 'fr', 'UTC', false, 'pending', "
                ":at, :at)"
            ),
            {"s": series_id, "first": "Zoé\u202eliveD", "at": datetime(2026, 11, 1, tzinfo=UTC)},
        )
        await connection.run_sync(_downgrade, "0022")
        return int(
            (await connection.execute(text("SELECT max(id) FROM self_registration"))).scalar_one()
        )


async def test_migration_0023_folds_stored_numbers_and_drops_invisible_characters_from_names(
    database: Database,
) -> None:
    persian = "مهر\u200cناز"  # a ZWNJ that shapes the name: kept
    request_id = await _at_0022_with(
        database,
        [
            {**_physician(1, npi="\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff13")},
            {**_physician(2, rpps="\uff11" + "0001234567"), "first_name": "O'Brien\u202eevil"},
            {**_physician(3, npi="1245319599"), "first_name": persian},
            {**_physician(4), "first_name": "\u200b\u2066"},  # nothing visible: left as is
        ],
    )

    await upgrade(database.url)

    async with database.engine.connect() as connection:
        stored = (
            await connection.execute(
                text("SELECT first_name, npi, rpps FROM physician ORDER BY id")
            )
        ).all()
        request = (
            await connection.execute(
                text("SELECT first_name FROM self_registration WHERE id = :id"), {"id": request_id}
            )
        ).scalar_one()
    assert [tuple(row) for row in stored] == [
        ("P1", "1234567893", None),
        ("O'Brienevil", None, "10001234567"),
        (persian, "1245319599", None),
        ("\u200b\u2066", None, None),
    ]
    assert request == "ZoéliveD"


async def test_migration_0023_refuses_a_folded_number_another_physician_holds(
    database: Database,
) -> None:
    await _at_0022_with(
        database,
        [
            _physician(1, npi="1234567893"),
            _physician(2, npi="\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff13"),
        ],
    )
    before = await _physicians(database)

    with pytest.raises(DuplicateIdentifiersError) as refused:
        await upgrade(database.url)

    ids = [row[0] for row in before]
    assert (
        f"NPI 1234567893: physician {ids[0]} <p1@example.org>, physician {ids[1]} <p2@example.org>"
        in str(refused.value)
    )
    assert await _physicians(database) == before
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_revision) == "0022"


async def test_migration_0025_fixes_the_rules_of_sessions_already_final_and_not_the_others(
    database: Database,
) -> None:
    ended = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    final = await ended_session(database, 0, ended=ended)
    open_ = await ended_session(database, 0, ended=ended + timedelta(days=7))
    before = str(ScriptDirectory.from_config(alembic_config()).get_revision("0025").down_revision)
    async with database.engine.begin() as connection:
        await connection.run_sync(_downgrade, before)
        await connection.execute(
            text("INSERT INTO occurrence_closure (occurrence_id, closed_at) VALUES (:id, :at)"),
            {"id": final, "at": ended + timedelta(hours=2)},
        )

    await upgrade(database.url)

    async with database.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT occurrence_id, credit_rules FROM occurrence_closure")
        )
        stored = {occurrence: rules for occurrence, rules in rows}
    rules = stored[final]
    assert (json.loads(rules) if isinstance(rules, str) else rules) == {
        "credits": [{"type": "AMA_PRA_1", "max": 1.0, "rounding": "quarter"}],
        "min_attendance_percent": None,
    }
    assert open_ not in stored


async def test_migration_0026_gives_issued_certificates_their_physicians_name(
    database: Database,
) -> None:
    occurrence_id = await ended_session(database, 1, ended=datetime(2026, 11, 2, tzinfo=UTC))
    async with database.engine.begin() as connection:
        physician_id = (
            await connection.execute(text("SELECT min(id) FROM physician"))
        ).scalar_one()
        await connection.execute(
            text(
                "INSERT INTO certificate (code, occurrence_id, physician_id, version, minutes, "
                "credits, issued_at) VALUES ('CODE-1', :o, :p, 1, 60, '{}', :at)"
            ),
            {"o": occurrence_id, "p": physician_id, "at": datetime(2026, 11, 2, tzinfo=UTC)},
        )
        await connection.run_sync(_downgrade, "0025")
        expected = " ".join(
            (
                await connection.execute(
                    text("SELECT first_name, last_name FROM physician WHERE id = :p"),
                    {"p": physician_id},
                )
            ).one()
        )

    await upgrade(database.url)

    async with database.engine.connect() as connection:
        stored = (
            await connection.execute(text("SELECT holder_name FROM certificate"))
        ).scalar_one()
    assert stored == expected
