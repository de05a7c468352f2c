"""Checkpoints and the retention purge: the chain stays verifiable, and the purge is on record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from audit.adapters.tables import audit_log
from audit.domain.errors import NothingToPurge, PermissionDenied
from audit.entrypoints.worker import checkpoint_if_moved, measure
from audit.service_layer import metrics
from audit.service_layer.verify import verify_chain
from audit.views import EntryFilter
from scenergy.common.db import sqlalchemy_url
from scenergy.common.testing.actors import ADMIN, SUPER_ADMIN


def test_periodic_checkpoints_sign_the_head_only_when_it_moved(fresh_container, make_event, envelopes):
    container = fresh_container()
    assert checkpoint_if_moved(container) is False  # an empty chain has nothing to sign
    container.service.ingest(envelopes(*[make_event() for _ in range(3)]))
    assert checkpoint_if_moved(container) is True
    assert checkpoint_if_moved(container) is False
    checkpoint = container.store.latest_checkpoint()
    assert (checkpoint.seq, checkpoint.entry_count, checkpoint.reason) == (3, 3, "periodic")
    assert container.store.signer.verify(checkpoint.signed_content(), checkpoint.signature)
    measure(container)
    assert metrics.CHAIN_LENGTH._value.get() == 3
    assert metrics.UNCHECKPOINTED._value.get() == 0
    report = verify_chain(container.store)
    assert report.ok and report.checkpoints_checked == 1


def test_a_purge_checkpoints_first_keeps_the_chain_verifiable_and_is_audited(fresh_container, make_event, envelopes):
    container = fresh_container(retention_days=30)
    old = [make_event() for _ in range(5)]
    container.service.ingest(envelopes(*old))
    with pytest.raises(PermissionDenied):
        container.service.purge_expired(ADMIN)
    with pytest.raises(NothingToPurge):
        container.service.purge_expired(SUPER_ADMIN)  # nothing is 30 days old yet

    later = datetime.now(UTC) + timedelta(days=31)
    checkpoint, deleted = container.service.purge_expired(SUPER_ADMIN, now=later)
    assert (deleted, checkpoint.seq, checkpoint.reason) == (5, 5, "purge")
    with container.engine.connect() as conn:
        remaining = conn.execute(sa.select(audit_log.c.seq, audit_log.c.action, audit_log.c.actor_id)).all()
    assert [tuple(r) for r in remaining] == [(6, "audit.purge", SUPER_ADMIN.id)]
    purge_entry = container.views.get_entry(container.views.list_entries(EntryFilter(action="audit.purge")).items[0].id)
    assert purge_entry.metadata["deleted"] == 5 and purge_entry.metadata["checkpoint_id"] == checkpoint.id
    assert purge_entry.description == "Purged 5 entries past retention"

    container.service.ingest(envelopes(*[make_event() for _ in range(2)]))
    report = verify_chain(container.store)
    assert (report.ok, report.start_seq, report.entries_checked) == (True, 5, 3)

    # Tampering after a purge is still caught.
    owner = sa.create_engine(sqlalchemy_url(container.settings.database_url))
    with owner.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 7"))
    owner.dispose()
    report = verify_chain(container.store)
    assert (report.ok, report.missing) == (False, 1)
