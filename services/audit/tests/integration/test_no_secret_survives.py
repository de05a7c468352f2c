"""Property: whatever the payload, no sensitive value reaches the stored entry, the diff, the exports or the logs.

Payloads are random nested JSON with secrets planted at random depths under sensitive keys (in many
spellings), and inside ordinary strings as URL parameters, bearer headers, URL passwords and
key/value text. Every secret is a unique marker, so finding it anywhere is a leak.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.domain.diff import diff_states
from audit.views import EntryFilter
from scenergy.common.identity import Actor, ActorType, Role
from scenergy.common.ids import new_id
from scenergy.common.logging import JsonFormatter

SENSITIVE_KEYS = [
    "password", "Password", "new_password", "API_KEY", "x-api-key", "apiKey", "Authorization", "set-cookie",
    "Cookie", "client_secret", "refreshToken", "access_token", "card_number", "cvc", "stripe_signature",
]  # fmt: skip
PLAIN_KEYS = st.sampled_from(["name", "plan", "notes", "url", "items", "settings", "amount", "error", "meta"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=12))
TEMPLATES = [
    "https://hooks.example.test/cb?token={s}&page=2",
    "Authorization: Bearer {s}",
    "postgresql://svc:{s}@db.internal/app",
    'upstream said {{"password": "{s}"}}',
    "retry with api_key={s} failed",
]

markers = st.from_regex(r"zq[0-9a-f]{12}SECRET", fullmatch=True)


@st.composite
def payloads(draw):
    """A nested object, and the secrets planted in it."""
    secrets: list[str] = []

    def plant_value():
        secret = draw(markers)
        secrets.append(secret)
        shape = draw(st.sampled_from(["plain", "nested", "list"]))
        if shape == "nested":
            return {"value": secret, "note": "x"}
        if shape == "list":
            return [secret, 1]
        return secret

    def build(depth):
        node = {}
        for key in draw(st.lists(PLAIN_KEYS, max_size=3, unique=True)):
            kind = draw(st.sampled_from(["scalar", "object", "list", "template"] if depth < 4 else ["scalar"]))
            if kind == "object":
                node[key] = build(depth + 1)
            elif kind == "list":
                node[key] = [build(depth + 1) for _ in range(draw(st.integers(0, 2)))]
            elif kind == "template":
                secret = draw(markers)
                secrets.append(secret)
                node[key] = draw(st.sampled_from(TEMPLATES)).format(s=secret)
            else:
                node[key] = draw(SCALARS)
        if draw(st.booleans()) or depth == 0:
            node[draw(st.sampled_from(SENSITIVE_KEYS))] = plant_value()
        return node

    return build(0), secrets


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(previous=payloads(), new=payloads(), extra=payloads(), error_secret=markers, agent_secret=markers)
def test_no_sensitive_value_is_stored_diffed_exported_or_logged(
    container, make_event, envelopes, caplog, previous, new, extra, error_secret, agent_secret
):
    secrets = previous[1] + new[1] + extra[1] + [error_secret, agent_secret]
    entity_id = new_id("cli")
    actor = Actor(
        ActorType.ADMIN, new_id("adm"), Role.ADMIN, "192.0.2.1", f"agent/1.0 (+https://x.test/?token={agent_secret})"
    )
    envelope = make_event(
        "client.update",
        source="admin_api",
        entity_id=entity_id,
        actor=actor,
        data={"previous": previous[0], "new": new[0], **extra[0]},
        outcome="failure",
        error_code="upstream_error",
        error_message=f"POST https://api.example.test/v1?api_key={error_secret} returned 500",
    )
    formatter = JsonFormatter("audit-test")
    with caplog.at_level(logging.DEBUG):
        container.service.ingest(envelopes(envelope))
        with container.engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT a::text FROM audit_log a WHERE id = :id"), {"id": envelope["id"]}
            ).scalar_one()
        entry = container.views.get_entry(envelope["id"])
        diff = repr(diff_states(entry.previous_state, entry.new_state, entry.redacted_fields))
        flt = EntryFilter(entity_type="client", entity_id=entity_id)
        csv_body = b"".join(container.service.export(flt, "csv", None).chunks).decode()
        jsonl_body = b"".join(container.service.export(flt, "jsonl", None).chunks).decode()
    logs = "\n".join(formatter.format(record) for record in caplog.records)
    caplog.clear()
    assert entry.redacted_fields, "the entry must say what was redacted"
    for secret in secrets:
        for name, text in (("row", row), ("diff", diff), ("csv", csv_body), ("jsonl", jsonl_body), ("logs", logs)):
            assert secret not in text, f"{secret} leaked into the {name}"
