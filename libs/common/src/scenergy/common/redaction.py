"""Removes sensitive values before anything is stored, exported or logged.

`redact(value)` copies a JSON-like value, replacing whatever sits under a sensitive key (any depth,
any type) and scrubbing every other string; it also says where, as RFC 6901 JSON pointers, so an
audit entry can record which fields were redacted. `scrub_text(text)` finds secrets inside free
text: error messages, URLs, headers, repr()s of dicts. Precision matters as much as recall: the
tables below are deliberately narrow, so ordinary business fields (`idempotency_key`,
`input_tokens`, `session_id`, `author`…) pass through untouched.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

REDACTED = "[REDACTED]"

# Containers nested deeper than this are replaced whole: we can't vet what we don't walk.
MAX_DEPTH = 64

# Keys are compared lower-cased with every non-alphanumeric character dropped: X-Api-Key == api_key == apiKey.
# Credentials by any other name: a key holding one of these words anywhere is sensitive.
_SENSITIVE_WORDS = ("password", "passwd", "passphrase", "secret")
# Names that count only as the whole key: inside longer ones they'd hit ordinary fields (`shipping`, `author`, `company`).
_SENSITIVE_NAMES = frozenset(
    {
        # one-time and short secrets
        "pwd", "pin", "otp", "totp", "passcode", "recoverycodes", "backupcodes",
        # card data (PCI DSS: the number and the security code never leave the payment provider)
        "pan", "cvc", "cvv", "cvc2", "cvv2", "cardcvc", "cardcvv", "securitycode",
        "cardnumber", "ccnumber", "creditcard", "creditcardnumber",
        # HTTP credentials and their headers
        "auth", "jwt", "authorization", "proxyauthorization", "cookie", "cookies", "setcookie",
        "credential", "credentials", "privatekey", "signature", "stripesignature",
        # plurals of the suffixes below that `input_tokens` forbids matching as a suffix
        "accesstokens", "refreshtokens", "idtokens", "apitokens", "authtokens", "sessiontokens",
        # our own signed service credential (its gRPC metadata key)
        "xscenergycredential",
    }
)  # fmt: skip
# Suffixes naming a credential (`refresh_token`, `x-api-key`, `session_cookie`, `SERVICE_CREDENTIAL_KEY`),
# and their plurals; plain `key`, `idempotency_key`, `input_tokens` and `token_count` end with none of them.
_SENSITIVE_SUFFIXES = (
    "token", "apikey", "accesskey", "secretkey", "privatekey", "signingkey", "encryptionkey", "credentialkey",
    "apikeys", "accesskeys", "secretkeys", "privatekeys", "signingkeys", "encryptionkeys", "cookie", "cookies",
)  # fmt: skip

# Nothing scrub_text detects fits in fewer characters: shorter strings skip the regexes.
_MIN_SCAN_LENGTH = 8

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

_Span = tuple[int, int]


def _is_sensitive(key: str) -> bool:
    name = _NON_ALNUM.sub("", key.lower())
    return (
        name in _SENSITIVE_NAMES or name.endswith(_SENSITIVE_SUFFIXES) or any(word in name for word in _SENSITIVE_WORDS)
    )


# The same few hundred keys come by on every event; keys too long to be names (rare, maybe hostile) aren't kept.
_is_sensitive_cached = functools.lru_cache(maxsize=4096)(_is_sensitive)


def is_sensitive_key(key: str) -> bool:
    """True when a value stored under `key` must never be stored, exported or logged."""
    return _is_sensitive_cached(key) if len(key) <= 100 else _is_sensitive(key)


# --- secrets inside free text -------------------------------------------------------------------
# Each rule below finds spans to replace on its own (overlaps merge later). Rules that need a
# literal (`://`, `eyJ`, `Bearer`) run only when it occurs: a substring test costs far less than a
# regex scan. Every pattern starts behind a lookbehind that rules out starting mid-word, and a
# scan resumes after what it redacted, so each rule stays linear in the length of the text.

# `key=value`, `key: value`, `"key": "value"`, `'key': 'value'`, `key='value'`, `?key=value&…` (also
# `card[number]`, `X-Api-Key`): this finds a key and its separator; _VALUE reads the value when the key is sensitive.
_KEY = re.compile(r"""(?<![\w.\-\[\]])(?P<key>[\w.\-\[\]]{1,64}+)(?:\\?["'])?\s*[:=]\s*""")
_VALUE = re.compile(
    r"""
    (?:(?i:bearer|basic|token|digest|negotiate)[ \t]+)?+   # an authorization scheme stays readable
    (?: \\"(?P<escaped>[^"]*?)\\"                           # \"value\" inside JSON that was encoded twice
      | b?"(?P<double>(?:[^"\\\r\n]|\\.)*)"                 # "value", to the closing quote
      | b?'(?P<single>(?:[^'\\\r\n]|\\.)*)'                 # 'value' (also Python's b'value')
      | \\?["']?(?P<bare>[^\s&,;"'()\[\]{}<>]+)             # to whitespace, & , ; a quote or a bracket
    )
    """,
    re.VERBOSE,
)
_VALUE_GROUPS = ("escaped", "double", "single", "bare")
# A cookie header carries several name=value pairs: the whole rest of its line goes.
_COOKIE_HEADER = re.compile(r"(?<![\w\-])(?i:set-cookie|cookie)[ \t]*:[ \t]*(?P<secret>[^\r\n]+)")

# A standalone `Bearer <token>` or `Basic <base64>`, when the token looks like one (_credential_like).
_AUTH_SCHEME = re.compile(r"(?<![\w\-])(?i:bearer|basic)[ \t]+(?P<secret>[A-Za-z0-9\-._~+/]+=*)")
_AUTH_SCHEME_LITERALS = ("earer", "EARER", "asic", "ASIC")

# The password of a URL's userinfo: postgresql://user:password@host/db.
_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s:/?#@\[\]]*:(?P<secret>[^\s/?#]+)@"
)

# 13-19 digits, in groups split by single spaces or dashes, starting with 2-6 (the IIN ranges of
# Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro) so that epoch milliseconds (1…)
# never pass for a card; the Luhn check then rules out nine numbers in ten. (The lookbehind comes
# after the first digit: a pattern that starts with a character class is scanned much faster.)
_CARD_NUMBER = re.compile(r"[2-6](?<![\d.][2-6])(?:[ \-]?\d){12,18}(?!\d|\.\d)")

# Well-known credential shapes, wherever they appear, with the literals one of which they contain.
_SHAPES = re.compile(
    r"""
      (?<![A-Za-z0-9])(?:(?:sk|rk)_(?:live|test)|whsec)_[A-Za-z0-9]{8,}   # Stripe secret, restricted, webhook keys
    | (?<![\w\-])eyJ[\w\-]{5,}\.[\w\-]+\.[\w\-]*(?:\.[\w\-]+){0,2}         # JWT, JWE, itsdangerous (our credential)
    | (?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])             # AWS access key ids
    | (?<![\w\-])AIza[\w\-]{35}(?![\w\-])                                  # Google API keys
    | (?s:-----BEGIN[ ][A-Z0-9 ]*PRIVATE[ ]KEY(?:[ ]BLOCK)?-----           # PEM private keys; one cut short
        (?:.*?-----END[ ][A-Z0-9 ]*PRIVATE[ ]KEY(?:[ ]BLOCK)?-----|.*))    #   goes to the end of the text
    """,
    re.VERBOSE,
)  # pk_live_… (Stripe's publishable key) is public and stays
_SHAPE_LITERALS = ("sk_", "rk_", "whsec_", "eyJ", "AKIA", "ASIA", "AIza", "-----BEGIN ")


def _key_value_spans(text: str) -> Iterator[_Span]:
    pos = 0
    while match := _KEY.search(text, pos):
        pos = match.end()
        if not _is_sensitive_cached(match["key"]) or not (value := _VALUE.match(text, pos)):  # keys <= 64 chars
            continue
        group = next(name for name in _VALUE_GROUPS if value[name] is not None)
        yield value.span(group)
        pos = value.end()


def _credential_like(token: str) -> bool:
    # "Bearer of bad news", "Basic plan": a credential has 8+ characters and a digit, base64
    # punctuation or mixed case; words rarely do.
    return len(token) >= 8 and (
        any(c.isdigit() or c in "+/=" for c in token) or (not token.isupper() and not token[1:].islower())
    )


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _card_spans(text: str) -> Iterator[_Span]:
    pos = 0
    while match := _CARD_NUMBER.search(text, pos):
        start, end = match.span()
        pos = start + 1  # a failed candidate's later groups may still start a card
        while end > start:  # the whole candidate, else its longest leading groups
            digits = text[start:end].replace(" ", "").replace("-", "")
            if len(digits) < 13:
                break
            if _luhn_valid(digits):
                yield start, end
                pos = end
                break
            end = max(text.rfind(" ", start, end), text.rfind("-", start, end), start)


def _scrub_spans(text: str) -> Iterator[_Span]:
    """The spans of `text` that hold a secret, in no particular order (they may overlap)."""
    if ":" in text or "=" in text:
        yield from _key_value_spans(text)
        if "://" in text:
            yield from (match.span("secret") for match in _URL_PASSWORD.finditer(text))
        if "ookie" in text or "OOKIE" in text:
            yield from (match.span("secret") for match in _COOKIE_HEADER.finditer(text))
    if any(literal in text for literal in _AUTH_SCHEME_LITERALS):
        for match in _AUTH_SCHEME.finditer(text):
            if _credential_like(match["secret"]):
                yield match.span("secret")
    yield from _card_spans(text)
    if any(literal in text for literal in _SHAPE_LITERALS):
        yield from (match.span() for match in _SHAPES.finditer(text))


def scrub_text(text: str) -> tuple[str, bool]:
    """The text with every secret found in it replaced by REDACTED, and whether there was any.

    Everything that isn't a secret is kept byte for byte. A value that already reads REDACTED is
    left alone, so scrubbing twice changes nothing more.
    """
    if len(text) < _MIN_SCAN_LENGTH:
        return text, False
    spans = sorted((start, end) for start, end in _scrub_spans(text) if text[start:end] not in ("", REDACTED))
    if not spans:
        return text, False
    pieces: list[str] = []
    kept_from = 0  # the end of the last replaced span; overlapping and touching spans merge into one
    for start, end in spans:
        if start > kept_from or not pieces:
            pieces += (text[kept_from:start], REDACTED)
        kept_from = max(kept_from, end)
    pieces.append(text[kept_from:])
    return "".join(pieces), True


# --- JSON-like values ---------------------------------------------------------------------------


def redact(value: Any, *, prefix: str = "", default: Callable[[Any], Any] | None = None) -> tuple[Any, list[str]]:
    """A redacted deep copy of `value`, and the sorted JSON pointers of every place changed.

    Whatever sits under a sensitive key becomes REDACTED whole (a dict under `credentials` becomes
    the string); every other string goes through `scrub_text`. Dicts, lists and tuples are copied
    (non-string keys become `str(key)`); numbers, booleans and None are kept; the input is never
    modified. A container inside MAX_DEPTH others isn't walked: it becomes REDACTED (and is listed).

    `prefix` (an already escaped pointer such as "/new_state") is put in front of every pointer;
    the root itself is `prefix`. `default`, as in `json.dumps`, converts values of any other type
    (e.g. `default=str`) before they are redacted; without it they are returned as they are.
    """
    found: list[str] = []
    result = _walk(value, [prefix], found, default)
    found.sort()
    return result, found


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1") if ("~" in name or "/" in name) else name


def _walk(value: Any, path: list[str], found: list[str], default: Callable[[Any], Any] | None) -> Any:
    """Copy `value`; `path` is the escaped pointer as a stack of parts, joined only when something is found."""
    if isinstance(value, str):
        scrubbed, changed = scrub_text(value)
        if changed:
            found.append("/".join(path))
        return scrubbed
    if value is None or isinstance(value, bool | int | float):
        return value
    if len(path) > MAX_DEPTH and (default is not None or isinstance(value, dict | list | tuple)):
        found.append("/".join(path))
        return REDACTED
    if isinstance(value, dict):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            name = key if isinstance(key, str) else str(key)
            path.append(_escape(name))
            if is_sensitive_key(name):
                copy[name] = REDACTED
                found.append("/".join(path))
            else:
                copy[name] = _walk(item, path, found, default)
            path.pop()
        return copy
    if isinstance(value, list | tuple):
        items = []
        for index, item in enumerate(value):
            path.append(str(index))
            items.append(_walk(item, path, found, default))
            path.pop()
        return items if isinstance(value, list) else tuple(items)
    if default is not None:
        return _walk(default(value), path, found, default)
    return value
