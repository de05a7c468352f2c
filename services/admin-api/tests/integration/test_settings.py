"""Platform settings: defaults, partial changes stored key by key, validation, roles, audit events."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from admin_api.adapters.tables import outbox, platform_setting
from scenergy.common.identity import Role

URL = "/api/admin/settings"

DEFAULTS = {
    "default_credit_grant": 0,
    "low_balance_threshold": 50,
    "generation": {"default_model": "gemini-2.5-flash-image", "max_concurrent_jobs": 10, "job_timeout_s": 300},
    "maintenance_mode": False,
    "support_email": None,
    "allowed_admin_email_domains": [],
}


def events_of(container, action):
    entity, verb = action.split(".")
    with container.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(outbox.c.payload)
                .where(outbox.c.routing_key == f"admin_api.{entity}.{verb}")
                .order_by(outbox.c.seq)
            ).scalars()
        )


def stored(container):
    with container.engine.connect() as conn:
        return {row.key: row.value for row in conn.execute(sa.select(platform_setting))}


@pytest.fixture(autouse=True)
def pristine_settings(container):
    """Each test starts from the defaults; whatever was stored before comes back afterwards."""
    with container.engine.begin() as conn:
        saved = [dict(row._mapping) for row in conn.execute(sa.select(platform_setting))]
        conn.execute(platform_setting.delete())
    yield
    with container.engine.begin() as conn:
        conn.execute(platform_setting.delete())
        if saved:
            conn.execute(platform_setting.insert(), saved)


def test_every_role_reads_the_defaults(sign_in):
    for role in (Role.VIEWER, Role.ADMIN, Role.SUPER_ADMIN):
        response = sign_in(role).get(URL)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["settings"] == DEFAULTS
        assert body["defaults"] == DEFAULTS
        assert body["updated_at"] is None and body["updated_by"] is None


def test_a_partial_patch_stores_only_the_changed_keys_and_records_them(sign_in, container):
    session = sign_in(Role.SUPER_ADMIN)
    response = session.patch(
        URL,
        json={
            "low_balance_threshold": 25,
            "generation": {"max_concurrent_jobs": 4},
            "maintenance_mode": False,  # already the value: neither stored nor reported
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["changed"] == ["low_balance_threshold", "generation"]
    assert body["settings"] == {
        **DEFAULTS,
        "low_balance_threshold": 25,
        "generation": {**DEFAULTS["generation"], "max_concurrent_jobs": 4},
    }
    assert body["updated_by"] == session.admin["id"] and body["updated_at"]
    # Nested objects keep only the fields set: the other defaults still apply to them.
    assert stored(container) == {"low_balance_threshold": 25, "generation": {"max_concurrent_jobs": 4}}
    (event,) = events_of(container, "settings.update")[-1:]
    assert event["actor"]["id"] == session.admin["id"] and event["entity"] == {"type": "settings", "id": "platform"}
    assert event["data"]["previous"] == {"low_balance_threshold": 50, "generation": DEFAULTS["generation"]}
    assert event["data"]["new"] == {
        "low_balance_threshold": 25,
        "generation": {**DEFAULTS["generation"], "max_concurrent_jobs": 4},
    }

    second = session.patch(URL, json={"generation": {"job_timeout_s": 600}})
    assert second.get_json()["changed"] == ["generation"]
    assert stored(container)["generation"] == {"max_concurrent_jobs": 4, "job_timeout_s": 600}
    everyone = sign_in(Role.VIEWER).get(URL).get_json()
    assert everyone["settings"]["generation"] == {
        "default_model": "gemini-2.5-flash-image",
        "max_concurrent_jobs": 4,
        "job_timeout_s": 600,
    }
    assert everyone["settings"]["low_balance_threshold"] == 25


def test_setting_the_current_values_changes_nothing(sign_in, container):
    session = sign_in(Role.SUPER_ADMIN)
    before = len(events_of(container, "settings.update"))
    response = session.patch(URL, json={"low_balance_threshold": 50, "generation": {"job_timeout_s": 300}})
    assert response.status_code == 200 and response.get_json()["changed"] == []
    assert stored(container) == {}
    assert len(events_of(container, "settings.update")) == before


def test_values_are_normalised_and_support_email_can_be_cleared(sign_in, container):
    session = sign_in(Role.SUPER_ADMIN)
    response = session.patch(
        URL,
        json={
            "allowed_admin_email_domains": ["Scenergy.AI", "scenergy.ai", "ops.scenergy.ai"],
            "support_email": "Help@Scenergy.AI",
        },
    )
    assert response.status_code == 200, response.get_json()
    settings = response.get_json()["settings"]
    assert settings["allowed_admin_email_domains"] == ["scenergy.ai", "ops.scenergy.ai"]
    assert settings["support_email"] == "help@scenergy.ai"
    assert stored(container)["allowed_admin_email_domains"] == ["scenergy.ai", "ops.scenergy.ai"]
    cleared = session.patch(URL, json={"support_email": None})
    assert cleared.status_code == 200 and cleared.get_json()["settings"]["support_email"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"low_balance_threshold": -1},
        {"default_credit_grant": "5"},
        {"default_credit_grant": True},
        {"default_credit_grant": 2.5},
        {"generation": {"max_concurrent_jobs": 0}},
        {"generation": {"max_concurrent_jobs": 101}},
        {"generation": {"job_timeout_s": 5}},
        {"generation": {"job_timeout_s": 3601}},
        {"generation": {"default_model": ""}},
        {"generation": {"default_model": "gemini 2 <script>"}},
        {"generation": {"temperature": 1}},
        {"generation": None},
        {"maintenance_mode": "yes"},
        {"maintenance_mode": None},
        {"support_email": "not-an-email"},
        {"support_email": " help@scenergy.ai"},
        {"support_email": "help\u0000@scenergy.ai"},
        {"generation": {"default_model": "gemini\u0000"}},
        {"allowed_admin_email_domains": ["scenergy.ai\n"]},
        {"allowed_admin_email_domains": ["-bad.example.com"]},
        {"allowed_admin_email_domains": ["scenergy.ai"] * 51},
        {"allowed_admin_email_domains": ["not a domain"]},
        {"allowed_admin_email_domains": "scenergy.ai"},
        {"allowed_admin_email_domains": ["localhost"]},
        {"unknown_setting": 1},
        {"low_balance_threshold": 10, "typo_key": 1},  # a valid change with an unknown key: nothing applies
        {"low_balance_threshold": 10, "generation": {"job_timeout_s": 0}},
        [],
    ],
)
def test_invalid_patches_are_400_with_field_errors_and_change_nothing(sign_in, container, body):
    session = sign_in(Role.SUPER_ADMIN)
    before = len(events_of(container, "settings.update"))
    response = session.patch(URL, json=body)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and error["details"]["fields"], error
    assert stored(container) == {}
    assert len(events_of(container, "settings.update")) == before
    assert session.get(URL).get_json()["settings"] == DEFAULTS


def test_only_a_super_admin_may_change_settings(sign_in, container):
    for role in (Role.ADMIN, Role.VIEWER):
        session = sign_in(role)
        response = session.patch(URL, json={"maintenance_mode": True})
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert stored(container) == {}


def test_a_stored_value_that_no_longer_validates_falls_back_to_its_default(sign_in, container):
    with container.engine.begin() as conn:
        conn.execute(
            platform_setting.insert(),
            [
                {"key": "low_balance_threshold", "value": -5},  # e.g. written before the rule existed
                {"key": "default_credit_grant", "value": 7},
                {"key": "retired_setting", "value": {"x": 1}},  # a key the model no longer knows
            ],
        )
    session = sign_in(Role.SUPER_ADMIN)
    settings = session.get(URL).get_json()["settings"]
    assert settings["low_balance_threshold"] == 50 and settings["default_credit_grant"] == 7
    # and a change of another key still goes through
    response = session.patch(URL, json={"maintenance_mode": True})
    assert response.status_code == 200 and response.get_json()["changed"] == ["maintenance_mode"]


def test_a_repeated_idempotency_key_replays_the_answer(sign_in, container):
    session = sign_in(Role.SUPER_ADMIN)
    headers = {"Idempotency-Key": "settings-once"}
    first = session.patch(URL, json={"default_credit_grant": 100}, headers=headers)
    again = session.patch(URL, json={"default_credit_grant": 100}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
