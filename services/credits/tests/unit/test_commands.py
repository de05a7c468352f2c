import pytest

from credits.domain import commands
from credits.domain.errors import InvalidArgument


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"amount": 0}, "amount must not be zero"),
        ({"amount": -5}, "amount must be positive"),
        ({"amount": 10**12}, "at most"),
        ({"amount": 2**64}, "at most"),
        ({"reason": ""}, "reason is required"),
        ({"reason": "   "}, "reason is required"),
        ({"reason": "x" * 501}, "at most 500"),
        ({"client_id": ""}, "client_id is required"),
        ({"client_id": "not an id"}, "client_id is malformed"),
        ({"client_id": "cli_" + "a" * 200}, "client_id is malformed"),
        ({"idempotency_key": ""}, "idempotency_key is required"),
        ({"idempotency_key": "has space"}, "idempotency_key must be"),
        ({"amount": True}, "must be an integer"),
    ],
)
def test_grant_refuses_bad_input_with_a_clear_message(kwargs, message):
    fields = {"client_id": "cli_abcdef12", "amount": 100, "reason": "beta", "idempotency_key": "k-1"} | kwargs
    with pytest.raises(InvalidArgument, match=message):
        commands.Grant(**fields)


def test_adjust_accepts_either_sign_but_not_zero():
    commands.Adjust("cli_abcdef12", -10, "fix", "k")
    commands.Adjust("cli_abcdef12", 10, "fix", "k")
    with pytest.raises(InvalidArgument):
        commands.Adjust("cli_abcdef12", 0, "fix", "k")


def test_hold_ttl_is_bounded():
    with pytest.raises(InvalidArgument, match="ttl_seconds"):
        commands.ReserveHold("cli_abcdef12", 5, 1, "k")
    with pytest.raises(InvalidArgument, match="ttl_seconds"):
        commands.ReserveHold("cli_abcdef12", 5, 86_401, "k")


def test_capture_may_be_zero_but_refund_may_not():
    commands.CaptureHold("hld_abcdef12", 0, "k")
    with pytest.raises(InvalidArgument):
        commands.Refund("ctx_abcdef12", 0, "r", "k")


def test_refund_needs_a_transaction_id():
    with pytest.raises(InvalidArgument, match="ctx_"):
        commands.Refund("cli_abcdef12", 1, "r", "k")


def test_fingerprint_ignores_the_key_but_not_the_content():
    a = commands.Grant("cli_abcdef12", 100, "beta", "k-1")
    b = commands.Grant("cli_abcdef12", 100, "beta", "k-2")
    c = commands.Grant("cli_abcdef12", 101, "beta", "k-1")
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()
    assert a.fingerprint() != commands.Purchase("cli_abcdef12", 100, "beta", "k-1").fingerprint()
