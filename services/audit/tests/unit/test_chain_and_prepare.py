"""The chain's pure parts: normalisation, hashing, signing, and turning an envelope into an entry."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from audit.config import Settings
from audit.domain.chain import GENESIS_HASH, ChainSigner, InvalidKey, canonical, entry_hash, normalize, seal_message
from audit.domain.describe import describe
from audit.domain.prepare import prepare
from scenergy.common.config import ConfigError
from scenergy.common.events import make_envelope, parse_envelope
from scenergy.common.testing.actors import ADMIN


def test_normalize_makes_values_jsonb_can_give_back_unchanged():
    assert normalize(
        {"a": 1e17, "g": 1e20, "b": -0.0, "c": math.nan, "d": 2**70, "e": "x\x00y", "f": (1, 2), 3: "k"}
    ) == {
        "a": 100000000000000000,
        "g": "100000000000000000000",
        "b": 0.0,
        "c": "nan",
        "d": str(2**70),
        "e": "x\ufffdy",
        "f": [1, 2],
        "3": "k",
    }
    assert normalize({"ok": [1.5, 0.1, True, None, "café"]}) == {"ok": [1.5, 0.1, True, None, "café"]}
    assert normalize("\ud800lone") == "?lone"


def test_canonical_json_ignores_key_order_and_the_hash_chains():
    assert canonical({"b": 1, "a": [2, {"d": 3, "c": 4}]}) == b'{"a":[2,{"c":4,"d":3}],"b":1}'
    first = entry_hash(GENESIS_HASH, {"x": 1})
    assert first != entry_hash(GENESIS_HASH, {"x": 2})
    assert entry_hash(first, {"x": 1}) != first
    assert len(first) == 64


def test_signatures_verify_with_the_key_and_retired_keys_only():
    old = ChainSigner(ChainSigner.generate_private_key())
    new = ChainSigner(ChainSigner.generate_private_key(), retired_public_keys=[old.public_key_text()])
    message = seal_message(7, "evt_x", "ab" * 32)
    assert new.verify(message, new.sign(message))
    assert new.verify(message, old.sign(message))  # signed before the rotation
    assert not old.verify(message, new.sign(message))
    assert not new.verify(seal_message(8, "evt_x", "ab" * 32), new.sign(message))
    assert not new.verify(message, None) and not new.verify(message, "garbage")
    with pytest.raises(InvalidKey):
        ChainSigner("not a key")


def test_settings_refuse_a_bad_signing_key_or_role():
    env = {
        "DATABASE_URL": "postgresql://x/y",
        "BROKER_URL": "amqp://x",
        "SERVICE_CREDENTIAL_KEY": "k" * 32,
        "AUDIT_SIGNING_KEY": ChainSigner.generate_private_key(),
    }
    assert Settings.from_env(env).retention_days == 730
    with pytest.raises(ConfigError, match="AUDIT_SIGNING_KEY"):
        Settings.from_env({**env, "AUDIT_SIGNING_KEY": "short"})
    with pytest.raises(ConfigError, match="AUDIT_DB_ROLE"):
        Settings.from_env({**env, "AUDIT_DB_ROLE": "x -c statement_timeout=0"})
    with pytest.raises(ConfigError, match="AUDIT_SIGNING_KEY is required"):
        Settings.from_env({k: v for k, v in env.items() if k != "AUDIT_SIGNING_KEY"})


def envelope(**overrides):
    fields = {
        "type": "admin_api.client.update",
        "source": "admin_api",
        "entity_type": "client",
        "entity_id": "cli_acme000001",
        "data": {
            "previous": {"name": "Acme", "webhook_secret": "whsec_abcdefgh12345678"},
            "new": {"name": "Acme Furniture", "webhook_secret": "whsec_zyxwvuts87654321"},
            "headers": {"Authorization": "Bearer abc.def.ghi"},
            "reason": "rename",
        },
        "actor": ADMIN,
        **overrides,
    }
    return parse_envelope(make_envelope(**fields))


def test_prepare_redacts_and_records_where():
    entry = prepare(
        envelope(outcome="failure", error_code="conflict", error_message="GET /cb?token=s3cr3tvalue9 failed"),
        recorded_at=datetime(2026, 11, 22, tzinfo=UTC),
    )
    assert entry.action == "client.update"
    assert entry.new_state == {"name": "Acme Furniture", "webhook_secret": "[REDACTED]"}
    assert entry.metadata["headers"] == {"Authorization": "[REDACTED]"}
    assert entry.error_message == "GET /cb?token=[REDACTED] failed"
    assert entry.redacted_fields == (
        "/error_message",
        "/metadata/headers/Authorization",
        "/new_state/webhook_secret",
        "/previous_state/webhook_secret",
    )
    assert (entry.actor_id, entry.actor_role, entry.ip_address) == (ADMIN.id, "admin", ADMIN.ip)
    assert entry.description == "Failed: updated client (conflict)"
    assert "whsec_" not in repr(entry) and "s3cr3t" not in repr(entry)


@pytest.mark.parametrize(
    ("action", "data", "text"),
    [
        ("credit.grant", {"amount": 100, "reason": "Beta tester reward"}, "Granted 100 credits (Beta tester reward)"),
        ("credit.grant", {"amount": 1}, "Granted 1 credit"),
        ("credit.adjust", {"amount": -5, "reason": "typo"}, "Removed 5 credits by adjustment (typo)"),
        ("credit.refund", {"amount": -1500}, "Refunded 1,500 credits"),
        ("client.create", {}, "Created client"),
        ("user.invite", {}, "Invited user"),
        ("job.regenerate", {}, "Regenerated job"),
        ("asset.transfer", {"description": "Moved to Acme's gallery"}, "Moved to Acme's gallery"),
        ("credit.grant", {"amount": "lots"}, "Granted credits"),
    ],
)
def test_descriptions(action, data, text):
    assert describe(action, data, outcome="success", error_code=None) == text
