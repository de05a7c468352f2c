"""schemathesis against /api/admin/openapi.json, signed in as an admin: no 5xx, and every response
matches its documented status, content type and schema.

Each generated case gets a fresh session (made directly, without the cost of argon2), so a case that
signs out or ends sessions doesn't spoil the next one.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from admin_api.service_layer.admins import create_admin
from scenergy.common.identity import Role
from scenergy.common.ids import new_id

MAX_EXAMPLES = 15


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/admin/openapi.json", app)


@pytest.fixture(scope="module")
def contract_admin(container):
    with container.engine.begin() as conn:
        return create_admin(
            conn, email=f"{new_id('st')}@scenergy.test", password="contract testing passphrase", role=Role.ADMIN
        )


@pytest.fixture
def session_headers(container, contract_admin):
    def make():
        with container.engine.begin() as conn:
            token, csrf = container.sessions.create(
                conn, contract_admin["id"], ip="127.0.0.1", user_agent="schemathesis"
            )
        return {"Cookie": f"scenergy_session={token}", "X-CSRF-Token": csrf}

    return make


def test_the_api_keeps_its_contract(api_schema, session_headers):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(headers=session_headers(), environ_overrides={"wsgi.url_scheme": "https"})
            case.validate_response(response)

        check()
