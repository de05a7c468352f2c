"""Sign-in throttling by address: many accounts tried from one address get locked out together."""

from __future__ import annotations

from datetime import timedelta

from admin_api.security.throttle import LoginThrottle
from scenergy.common.ids import new_id


def test_failures_from_one_address_across_accounts_lock_that_address_only(container):
    throttle = LoginThrottle(container.engine, per_account=5, per_ip=3, window=timedelta(minutes=15))
    address, other = "198.51.100.23", "2001:db8::7"
    for _ in range(3):
        email = f"{new_id('guess')}@scenergy.test"
        assert throttle.check(email, address).allowed
        throttle.record_failure(email, address)
    verdict = throttle.check(f"{new_id('fresh')}@scenergy.test", address)
    assert not verdict.allowed and verdict.reason == "address" and 0 < verdict.retry_after_s <= 15 * 60 + 1
    assert throttle.check(f"{new_id('fresh')}@scenergy.test", other).allowed


def test_a_success_forgives_the_account_but_not_the_address(container):
    throttle = LoginThrottle(container.engine, per_account=2, per_ip=100, window=timedelta(minutes=15))
    email, address = f"{new_id('acct')}@scenergy.test", "203.0.113.77"
    throttle.record_failure(email, address)
    throttle.record_failure(email, address)
    assert throttle.check(email, address).reason == "account"
    throttle.clear_account(email)
    assert throttle.check(email, address).allowed
