"""The hash chain on the real PostgreSQL: append-only for the service, and every tampering detected."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from audit.adapters.store import AuditStore
from audit.domain.chain import ChainSigner, entry_hash
from audit.domain.prepare import prepare
from audit.entrypoints.verify import main as verify_main
from audit.service_layer.verify import verify_chain
from scenergy.common.db import sqlalchemy_url


def owner_engine(container):
    """The database owner (a superuser here), with triggers off: how an attacker with DBA rights acts."""
    return sa.create_engine(sqlalchemy_url(container.settings.database_url))


def tamper(container, *statements, params=None):
    engine = owner_engine(container)
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            conn.execute(sa.text(statement), params or {})
    engine.dispose()


@pytest.fixture
def chain(fresh_container, make_event, envelopes):
    """A chain of 10 entries written in 3 batches (3 seals), and its ids by position."""
    container = fresh_container()
    events = [make_event(entity_id=f"cli_tamper{i:04d}") for i in range(10)]
    for batch in (events[:4], events[4:7], events[7:]):
        container.service.ingest(envelopes(*batch))
    ids = {i + 1: e["id"] for i, e in enumerate(events)}
    assert verify_chain(container.store).ok
    return container, ids


def test_an_intact_chain_verifies_and_redeliveries_add_nothing(chain):
    container, _ = chain
    report = verify_chain(container.store)
    assert (report.ok, report.entries_checked, report.missing, report.problems) == (True, 10, 0, [])
    assert container.store.head()[0] == 10


def test_the_service_role_may_not_update_or_delete(chain):
    container, _ = chain
    for statement in ("UPDATE audit_log SET description = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(DBAPIError, match="permission denied"), container.engine.begin() as conn:
            conn.execute(sa.text(statement))
    with pytest.raises(DBAPIError, match="permission denied"), container.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_checkpoint"))


def test_even_the_owner_is_stopped_by_the_triggers(chain):
    container, _ = chain
    engine = owner_engine(container)
    for statement in ("UPDATE audit_log SET description = 'x'", "DELETE FROM audit_log WHERE seq = 1"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))
    with pytest.raises(DBAPIError, match="needs a purge checkpoint"), engine.begin() as conn:
        conn.execute(sa.text("SELECT audit_purge(5)"))
    engine.dispose()


def test_a_modified_entry_is_named(chain):
    container, ids = chain
    tamper(container, "UPDATE audit_log SET description = 'Granted 1,000,000 credits' WHERE seq = 5")
    report = verify_chain(container.store)
    assert not report.ok
    assert (report.first.kind, report.first.entry_id, report.first.seq, report.missing) == ("modified", ids[5], 5, 0)


def test_a_modified_state_is_named(chain):
    container, ids = chain
    tamper(container, """UPDATE audit_log SET new_state = '{"balance": 999999}' WHERE seq = 2""")
    report = verify_chain(container.store)
    assert (report.first.kind, report.first.entry_id) == ("modified", ids[2])


def test_a_deleted_entry_is_counted(chain):
    container, ids = chain
    tamper(container, "DELETE FROM audit_log WHERE seq = 6")
    report = verify_chain(container.store)
    assert (report.ok, report.missing) == (False, 1)
    assert (report.first.kind, report.first.entry_id, report.first.seq) == ("missing", ids[7], 7)


def test_two_consecutive_deleted_entries_are_counted(chain):
    container, ids = chain
    tamper(container, "DELETE FROM audit_log WHERE seq IN (3, 4)")
    report = verify_chain(container.store)
    assert report.missing == 2
    assert (report.first.kind, report.first.entry_id) == ("missing", ids[5])
    assert [p.kind for p in report.problems] == ["missing"]


def test_deleting_the_newest_entries_is_detected(chain):
    container, _ = chain
    tamper(container, "DELETE FROM audit_log WHERE seq >= 9")
    report = verify_chain(container.store)
    assert (report.ok, report.missing, report.first.kind) == (False, 2, "missing")


def test_reordered_entries_are_named(chain):
    container, ids = chain
    tamper(
        container,
        "UPDATE audit_log SET seq = -1 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = -1",
    )
    report = verify_chain(container.store)
    assert not report.ok
    assert (report.first.kind, report.first.entry_id, report.first.seq) == ("reordered", ids[4], 3)


def test_a_forged_entry_with_a_valid_hash_is_named(chain, make_event, envelopes):
    """The attacker knows the algorithm and links the entry correctly, but has no signing key."""
    container, _ = chain
    last = container.store.head()
    forged = envelopes(make_event(entity_id="cli_forged0001", data={"amount": 5000, "reason": "forged"}))[0]
    entry = prepare(forged, recorded_at=forged.occurred_at)
    chained = replace(entry, seq=11, prev_hash=last[1], hash=entry_hash(last[1], entry.content()))
    engine = owner_engine(container)
    with engine.begin() as conn:
        AuditStore._copy(conn, [chained])
    engine.dispose()
    report = verify_chain(container.store)
    assert (report.first.kind, report.first.entry_id, report.first.seq) == ("forged", forged.id, 11)


def test_a_forged_seal_is_named(chain):
    container, ids = chain
    other = ChainSigner(ChainSigner.generate_private_key())
    tamper(container, "UPDATE audit_log SET seal = :seal WHERE seq = 4", params={"seal": other.sign(b"x")})
    report = verify_chain(container.store)
    assert (report.first.kind, report.first.entry_id) == ("forged", ids[4])


def test_a_forged_entry_spliced_into_the_middle_is_named(chain):
    container, ids = chain
    tamper(container, "UPDATE audit_log SET prev_hash = :fake, hash = :fake WHERE seq = 6", params={"fake": "f" * 64})
    report = verify_chain(container.store)
    assert report.first.entry_id == ids[6]
    assert report.first.kind in ("modified", "forged")


def test_the_verify_command_exits_0_when_intact_and_1_naming_the_entry_when_not(chain, monkeypatch, capsys):
    container, ids = chain
    settings = container.settings
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BROKER_URL", "memory://")
    monkeypatch.setenv("SERVICE_CREDENTIAL_KEY", settings.service_credential_key)
    monkeypatch.setenv("AUDIT_SIGNING_KEY", settings.signing_key)
    assert verify_main(["--checkpoint"]) == 0
    intact = json.loads(capsys.readouterr().out)
    assert intact["ok"] and intact["entries_checked"] == 10 and intact["checkpoint"].startswith("chk_")
    tamper(container, "DELETE FROM audit_log WHERE seq = 4")
    assert verify_main([]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["first_bad_id"], report["first_problem"], report["missing"]) == (ids[5], "missing", 1)
