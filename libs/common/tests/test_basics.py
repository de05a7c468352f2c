"""Settings, ids, credentials, envelopes and cursors: the small pieces every service leans on."""

import time

import pytest

from scenergy.common.config import ConfigError, env_bool, env_int, port, require
from scenergy.common.events import InvalidEnvelope, make_envelope, validate_envelope
from scenergy.common.identity import Actor, ActorType, InvalidCredential, Role, ServiceCredential
from scenergy.common.ids import is_id, new_id
from scenergy.common.pagination import InvalidPage, clamp_limit, decode_cursor, encode_cursor


def test_required_settings_fail_fast_naming_the_variable():
    with pytest.raises(ConfigError, match="DATABASE_URL is required"):
        require({}, "DATABASE_URL")
    with pytest.raises(ConfigError, match="GRPC_PORT must be an integer, got 'abc'"):
        port({"GRPC_PORT": "abc"}, "GRPC_PORT", 50051)
    with pytest.raises(ConfigError, match="GRPC_PORT must be <= 65535"):
        port({"GRPC_PORT": "70000"}, "GRPC_PORT", 50051)
    with pytest.raises(ConfigError, match="DEBUG must be true or false"):
        env_bool({"DEBUG": "maybe"}, "DEBUG", False)
    assert env_int({}, "X", 7) == 7


def test_ids_are_prefixed_and_sortable():
    first, second = new_id("cli"), new_id("cli")
    assert first.startswith("cli_") and len(first) == 30
    assert is_id(first, "cli", strict=True)
    assert not is_id(first, "usr")
    assert not is_id("cli_ab")
    # `$` alone also matches before a final newline: the whole value must be the id.
    assert not is_id(first + "\n") and not is_id(first + "\n", strict=True)
    time.sleep(0.002)
    assert new_id("cli") > first or second > first


def test_the_service_credential_carries_the_actor_and_refuses_forgeries():
    key = ServiceCredential("a-key-long-enough-for-hmac")
    actor = Actor(ActorType.ADMIN, "adm_abcdef12", Role.VIEWER, "198.51.100.1", "ua")
    caller = key.verify(key.sign("admin-api", actor))
    assert caller.service == "admin-api" and caller.actor == actor
    with pytest.raises(InvalidCredential, match="missing"):
        key.verify(None)
    with pytest.raises(InvalidCredential, match="invalid"):
        key.verify(ServiceCredential("another-key-long-enough").sign("admin-api", actor))
    token = key.sign("admin-api", actor)
    with pytest.raises(InvalidCredential):
        key.verify(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1])


def test_an_old_credential_expires():
    key = ServiceCredential("a-key-long-enough-for-hmac", max_age_s=0)
    token = key.sign("admin-api")
    time.sleep(1.1)
    with pytest.raises(InvalidCredential, match="expired"):
        key.verify(token)


def test_envelopes_are_validated():
    envelope = make_envelope(
        type="credits.credit.grant", source="credits", entity_type="credit", entity_id="cli_abcdef12", data={}
    )
    assert validate_envelope(envelope) is envelope
    assert envelope["actor"]["type"] == "system"
    for broken, message in [
        ({**envelope, "type": "grant"}, "type: String should match pattern"),
        ({**envelope, "occurred_at": "yesterday"}, "occurred_at"),
        ({**envelope, "occurred_at": "2026-01-01T00:00:00"}, "occurred_at: Input should have timezone"),
        ({**envelope, "actor": {"type": "admin"}}, "missing field 'actor.id'"),
        ({**envelope, "actor": {**envelope["actor"], "ip": "not-an-ip"}}, "actor.ip: ip must be an IPv4"),
        ({**envelope, "actor": {**envelope["actor"], "role": "owner"}}, "actor.role"),
        ({**envelope, "schema_version": 99}, "schema_version"),
        ({**envelope, "outcome": "failure"}, "a failure must carry an error code"),
        ({**envelope, "data": {"new": [1]}}, "data.new must be an object"),
        ({k: v for k, v in envelope.items() if k != "entity"}, "missing field 'entity'"),
        ("not a dict", "JSON object"),
    ]:
        with pytest.raises(InvalidEnvelope, match=message):
            validate_envelope(broken)


def test_cursors_round_trip_and_refuse_garbage():
    assert decode_cursor(encode_cursor(["2026-01-01T00:00:00+00:00", "ctx_1"]), size=2) == [
        "2026-01-01T00:00:00+00:00",
        "ctx_1",
    ]
    assert decode_cursor("", size=2) is None
    for bad in ["!!!", encode_cursor([1]), encode_cursor({"a": 1})]:
        with pytest.raises(InvalidPage):
            decode_cursor(bad, size=2)
    assert clamp_limit(0) == 50
    assert clamp_limit(100) == 100
    with pytest.raises(InvalidPage):
        clamp_limit(101)


def test_a_remembered_credential_still_expires():
    key = ServiceCredential("a-key-long-enough-for-hmac", max_age_s=2)
    token = key.sign("admin-api")
    assert key.verify(token).service == "admin-api"
    assert key.verify(token).service == "admin-api"  # answered from the cache
    time.sleep(3.1)  # the signature counts whole seconds
    with pytest.raises(InvalidCredential, match="expired"):
        key.verify(token)
