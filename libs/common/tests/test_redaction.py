"""Redaction: sensitive keys, secrets inside text, redacted copies of payloads, and the log formatter."""

import copy
import io
import json
import logging
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenergy.common.logging import JsonFormatter
from scenergy.common.redaction import MAX_DEPTH, REDACTED, is_sensitive_key, redact, scrub_text

SENSITIVE_KEYS = [
    "password", "Password", "new_password", "passwd", "passphrase", "secret", "client_secret", "webhookSecret",
    "mfa_secret", "pwd", "pin", "otp", "totp", "pan", "cvc", "cvv", "cvc2", "cvv2", "auth", "jwt", "cookie",
    "Cookies", "Set-Cookie", "session_cookie", "Authorization", "Proxy-Authorization", "credential", "credentials",
    "security_code", "card_number", "cardNumber", "cc_number", "credit_card", "credit_card_number", "card_cvc",
    "private_key", "recovery_codes", "signature", "Stripe-Signature", "token", "access_token", "refreshToken",
    "id_token", "csrf_token", "apiToken", "sessionToken", "refresh_tokens", "api_key", "apiKey", "X-Api-Key",
    "API_KEY", "aws_access_key", "secret_key", "signing_key", "encryption_key", "api_keys", "SERVICE_CREDENTIAL_KEY",
    "x-scenergy-credential", "card[number]",
]  # fmt: skip
ORDINARY_KEYS = [
    "idempotency_key", "key", "input_tokens", "output_tokens", "total_tokens", "token_count", "tokens_used",
    "client_id", "session_id", "collection_session_id", "user_agent", "last4", "brand", "exp_month", "description",
    "reason", "api_version", "author", "authored_at", "shipping", "spin", "panel", "keys", "cursor", "next_cursor",
    "amount", "email", "",
]  # fmt: skip


@pytest.mark.parametrize("key", SENSITIVE_KEYS)
def test_sensitive_keys_are_recognised_in_any_spelling(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize("key", ORDINARY_KEYS)
def test_ordinary_business_keys_are_not_sensitive(key: str) -> None:
    assert not is_sensitive_key(key)


R = REDACTED
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfMSJ9.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\nq2x/9Q==\n-----END RSA PRIVATE KEY-----"

SCRUBBED = [
    # URL query, fragment and form parameters under a sensitive name
    ("https://x/cb?token=abc&page=2", f"https://x/cb?token={R}&page=2"),
    ("https://x/cb#access_token=abc&state=xyz", f"https://x/cb#access_token={R}&state=xyz"),
    ("page=2&api_key=abc&sort=asc", f"page=2&api_key={R}&sort=asc"),
    ("card[number]=4000056655665556&card[cvc]=123", f"card[number]={R}&card[cvc]={R}"),
    # URL userinfo passwords
    ("postgresql://user:pw@host/db", f"postgresql://user:{R}@host/db"),
    ("dsn amqp://guest:gu@st@127.0.0.1:5672// failed", f"dsn amqp://guest:{R}@127.0.0.1:5672// failed"),
    ("redis://:hunter2@cache:6379/0", f"redis://:{R}@cache:6379/0"),
    # authorization headers and schemes
    ("Authorization: Bearer xyz", f"Authorization: Bearer {R}"),
    ("authorization=Basic dXNlcjpwYXNz", f"authorization=Basic {R}"),
    ("sent Bearer abcDEF123456 upstream", f"sent Bearer {R} upstream"),
    ("Basic dXNlcjpwYXNzd29yZA==", f"Basic {R}"),
    ("Proxy-Authorization: Negotiate YIIabc", f"Proxy-Authorization: Negotiate {R}"),
    ("Cookie: sid=abc; theme=dark\nHost: x", f"Cookie: {R}\nHost: x"),
    ("X-Api-Key: abc123", f"X-Api-Key: {R}"),
    # key/value pairs in their usual notations
    ("login failed password=hunter2 for adm_1", f"login failed password={R} for adm_1"),
    ("password: hunter2, retry", f"password: {R}, retry"),
    ('{"user": "a", "password": "hun ter\\"2", "n": 1}', f'{{"user": "a", "password": "{R}", "n": 1}}'),
    ("{'client_secret': 'abc def', 'id': 'x'}", f"{{'client_secret': '{R}', 'id': 'x'}}"),
    ("Config(refresh_token='abc', retries=3)", f"Config(refresh_token='{R}', retries=3)"),
    ('body {\\"pin\\": \\"1234\\"}', f'body {{\\"pin\\": \\"{R}\\"}}'),
    ("{'private_key': b'abc'}", f"{{'private_key': b'{R}'}}"),
    ('"cvc": 123}', f'"cvc": {R}}}'),
    # card numbers that pass Luhn, with or without separators
    ("card 4242424242424242 declined", f"card {R} declined"),
    ("card 4242 4242 4242 4242.", f"card {R}."),
    ("amex 3782-822463-10005 ok", f"amex {R} ok"),
    ("diners 36227206271667", f"diners {R}"),
    ("4242 4242 4242 4242 123", f"{R} 123"),  # the longest leading groups that pass Luhn
    ("ref 32 4242 4242 4242 4242", f"ref 32 {R}"),  # a failed candidate's later groups are tried
    # well-known secret shapes
    ("key sk_live_51HxAbCdEfGhIjKl used", f"key {R} used"),
    ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", R),
    ("rk_live_abcdefgh12345678", R),
    ("secret whsec_1234567890abcdef", f"secret {R}"),
    (f"token {JWT} expired", f"token {R} expired"),
    ("creds AKIAIOSFODNN7EXAMPLE leaked", f"creds {R} leaked"),
    ("AIzaSyD-1234567890abcdefghijklmnopqrstu", R),
    (f"x {PEM} y", f"x {R} y"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r (truncated)", R),
]


@pytest.mark.parametrize(("text", "expected"), SCRUBBED)
def test_scrub_text_replaces_secrets_inside_text(text: str, expected: str) -> None:
    assert scrub_text(text) == (expected, True)
    assert scrub_text(expected) == (expected, False)  # scrubbing twice changes nothing more


UNCHANGED = [
    "",
    "short",
    "Bearer x",
    "https://example.com/clients?page=2&sort=created_at#top",
    "https://user@example.com/path",
    "http://[::1]:8080/healthz",
    "2026-01-15T10:30:00.123+00:00",
    "call +49 30 1234 5678 or 0800 123 456",
    "4242424242424241",  # fails Luhn
    "1732270000000",  # epoch milliseconds: no card starts with 1
    "amount 12.4242424242424242",
    "cli_01jdq3x7v4k2m8n6p5r9s0t1wz and usr_01jdq3x7v4k2m8n6p5r9s0t1xa",
    "idempotency_key=7f3c-91ab, input_tokens=1200, token_count: 5",
    "session_id=cs_test_a1b2c3 client_id: cli_1 user_agent=Mozilla/5.0",
    "Upgrade from the Basic plan; the bearer of this note",
    "pk_live_51HxAbCdEfGhIjKlMnOp is public",
    "invalid token for key 'abc'",
    "password=[REDACTED]&token=",
    "ledger: 42 entries, reason: refund",
]


@pytest.mark.parametrize("text", UNCHANGED)
def test_scrub_text_leaves_ordinary_text_byte_for_byte(text: str) -> None:
    scrubbed, changed = scrub_text(text)
    assert (scrubbed, changed) == (text, False)


def test_scrubbing_stays_linear_on_hostile_text() -> None:
    size = 100_000
    hostile = [
        "x" * size + "://" + "a:" * (size // 10),
        "password=" * (size // 9),
        '"password": "' + "a" * size,
        "-----BEGIN PRIVATE KEY-----" * (size // 27),
        "a://u:" * (size // 6),
        "eyJaaaaa." * (size // 9),
        "4242 " * (size // 5),
        "Bearer " * (size // 7),
        "a=" * (size // 2),
        "a" + " " * size + ":",
    ]
    started = time.perf_counter()
    for text in hostile:
        scrub_text(text)
    assert time.perf_counter() - started < 5  # about 0.2 s; anything quadratic takes minutes


def test_redact_replaces_values_under_sensitive_keys_whole_and_says_where() -> None:
    payload = {
        "client": {"id": "cli_1", "name": "Acme", "credentials": {"user": "a", "pass": "b"}},
        "headers": [("Authorization", "Bearer abc123def456"), {"X-Api-Key": 42}],
        "weird/key~name": {"password": None},
        "note": "see https://x/cb?token=abc",
        7: "seven",
        "items": [1, 2.5, True, None, "plain"],
    }
    original = copy.deepcopy(payload)

    redacted, pointers = redact(payload)

    assert redacted == {
        "client": {"id": "cli_1", "name": "Acme", "credentials": R},
        "headers": [("Authorization", f"Bearer {R}"), {"X-Api-Key": R}],
        "weird/key~name": {"password": R},
        "note": f"see https://x/cb?token={R}",
        "7": "seven",
        "items": [1, 2.5, True, None, "plain"],
    }
    assert isinstance(redacted["headers"][0], tuple)
    assert pointers == [
        "/client/credentials",
        "/headers/0/1",
        "/headers/1/X-Api-Key",
        "/note",
        "/weird~1key~0name/password",
    ]
    assert payload == original  # never mutated
    assert redacted["items"] is not payload["items"]


def test_redact_with_a_prefix_and_at_the_root() -> None:
    assert redact({"api_key": "k", "ok": 1}, prefix="/new_state") == ({"api_key": R, "ok": 1}, ["/new_state/api_key"])
    assert redact("Authorization: Bearer abc") == (f"Authorization: Bearer {R}", [""])
    assert redact("nothing here") == ("nothing here", [])
    assert redact(None) == (None, [])


def test_redact_converts_other_types_only_when_asked() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "Opaque(password=hunter2)"

    thing = Opaque()
    assert redact({"x": thing}) == ({"x": thing}, [])
    assert redact({"x": thing}, default=str) == ({"x": f"Opaque(password={R})"}, ["/x"])


def test_nesting_beyond_the_limit_is_replaced_not_walked() -> None:
    deep: Any = {"password": "hunter2"}
    for _ in range(5000):  # far beyond the recursion limit
        deep = [deep]

    redacted, pointers = redact(deep)

    assert pointers == ["/0" * MAX_DEPTH]
    node = redacted
    for _ in range(MAX_DEPTH):
        assert isinstance(node, list) and len(node) == 1
        node = node[0]
    assert node == R


def test_nesting_up_to_the_limit_is_walked() -> None:
    deep: Any = "Bearer abcdef123456"
    for _ in range(MAX_DEPTH):
        deep = {"a": deep}
    redacted, pointers = redact(deep)
    assert pointers == ["/a" * MAX_DEPTH]
    assert "abcdef123456" not in json.dumps(redacted)


# --- property: planted secrets never survive, and nothing else changes ---------------------------

SPELLINGS = [
    "password", "Password", "API_KEY", "x-api-key", "Authorization", "set-cookie", "client_secret",
    "refreshToken", "card_number", "cvc", "apiKey", "webhookSecret", "access_token", "Cookie", "pin",
    "credentials", "X-Scenergy-Credential", "private_key",
]  # fmt: skip
EMBEDDINGS = [
    "https://host/p?token={}",
    "Authorization: Bearer {}",
    "postgresql://u:{}@h/db",
    '"password": "{}"',
]

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
payloads = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)
markers = st.text("0123456789abcdef", min_size=12, max_size=12).map(lambda hex_: f"zq{hex_}SECRET")
words = st.text("abcdefghijklmnopqrstuvwxyz0123456789 .,", max_size=12)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _containers(value: Any, pointer: str = "") -> list[tuple[Any, str]]:
    found: list[tuple[Any, str]] = []
    if isinstance(value, dict):
        found.append((value, pointer))
        for key, item in value.items():
            found += _containers(item, f"{pointer}/{_escape(key)}")
    elif isinstance(value, list):
        found.append((value, pointer))
        for index, item in enumerate(value):
            found += _containers(item, f"{pointer}/{index}")
    return found


def _assert_same_outside(before: Any, after: Any, pointer: str, pointers: set[str]) -> None:
    if pointer in pointers:
        return
    assert type(after) is type(before), pointer
    if isinstance(before, dict):
        assert list(after) == list(before), pointer
        for key in before:
            _assert_same_outside(before[key], after[key], f"{pointer}/{_escape(key)}", pointers)
    elif isinstance(before, list):
        assert len(after) == len(before), pointer
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            _assert_same_outside(old, new, f"{pointer}/{index}", pointers)
    else:
        assert after == before, pointer


@settings(max_examples=200, deadline=None)
@given(base=payloads, data=st.data())
def test_planted_secrets_never_survive_redaction(base: Any, data: st.DataObject) -> None:
    payload = {"root": base}
    planted: list[tuple[str, str]] = []  # (marker, pointer of where it was planted)
    for _ in range(data.draw(st.integers(1, 6))):
        container, pointer = data.draw(st.sampled_from(_containers(payload)))
        marker = data.draw(markers)
        if isinstance(container, dict) and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(SPELLINGS))
            shape = data.draw(st.sampled_from(["plain", "dict", "list"]))
            container[key] = {"plain": marker, "dict": {"inner": marker}, "list": [1, marker]}[shape]
            where = f"{pointer}/{_escape(key)}"
        else:
            embedding = data.draw(st.sampled_from(EMBEDDINGS)).format(marker)
            text = f"{data.draw(words)} {embedding} {data.draw(words)}"
            if isinstance(container, dict):
                key = f"note{len(planted)}"
                container[key] = text
                where = f"{pointer}/{key}"
            else:
                container.append(text)
                where = f"{pointer}/{len(container) - 1}"
        planted.append((marker, where))
    before = copy.deepcopy(payload)

    redacted, pointers = redact(payload)

    dumped = json.dumps(redacted)
    for marker, where in planted:
        assert marker not in dumped
        if marker in json.dumps(payload):  # not overwritten by a later plant under the same key
            assert any(where == p or where.startswith(p + "/") for p in pointers), (where, pointers)
    assert pointers == sorted(pointers)
    assert payload == before
    _assert_same_outside(before, redacted, "", set(pointers))


# --- the log formatter --------------------------------------------------------------------------


def test_the_json_formatter_never_writes_a_secret() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test-service"))
    log = logging.getLogger("test_redaction.formatter")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)

    class Connection:
        def __str__(self) -> str:
            return "Connection(amqp://guest:objSECRET9@broker//)"

    try:
        try:
            raise ValueError("cannot connect to postgresql://app:excSECRET1@db/app")
        except ValueError:
            log.exception(
                "login for %s with password=msgSECRET2 via %s",
                "adm_1",
                "https://x/cb?access_token=argSECRET3&page=2",
                extra={
                    "api_key": "extraSECRET4",
                    "request": {"headers": {"Authorization": "Bearer extraSECRET5"}, "path": "/v1/clients"},
                    "connection": Connection(),
                    "client_id": "cli_1",
                },
            )
        log.info("plain line", extra={"amount": 5, "tags": ("a", "b")})
    finally:
        log.removeHandler(handler)

    output = stream.getvalue()
    assert "SECRET" not in output
    first, second = (json.loads(line) for line in output.splitlines())
    assert first["msg"] == f"login for adm_1 with password={R} via https://x/cb?access_token={R}&page=2"
    assert first["api_key"] == R
    assert first["request"] == {"headers": {"Authorization": R}, "path": "/v1/clients"}
    assert first["connection"] == f"Connection(amqp://guest:{R}@broker//)"
    assert first["client_id"] == "cli_1"
    assert f"postgresql://app:{R}@db/app" in first["exc"] and "Traceback" in first["exc"]
    assert (second["msg"], second["amount"], second["tags"], second["service"]) == (
        "plain line",
        5,
        ["a", "b"],
        "test-service",
    )
