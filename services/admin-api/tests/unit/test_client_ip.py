"""The caller's address behind a configured number of trusted proxies."""

from __future__ import annotations

import pytest
from flask import Flask

from admin_api.web import client_ip

app = Flask("client-ip-test")


@pytest.mark.parametrize(
    ("trusted", "forwarded", "peer", "expected"),
    [
        (0, "", "203.0.113.5", "203.0.113.5"),
        (0, "198.51.100.1", "203.0.113.5", "203.0.113.5"),  # no proxy trusted: a sent header is ignored
        (1, "198.51.100.1", "10.0.0.2", "198.51.100.1"),  # the proxy appended what it saw
        (1, "6.6.6.6, 198.51.100.1", "10.0.0.2", "198.51.100.1"),  # a forged first hop is skipped
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.9", "10.0.0.2", "198.51.100.1"),
        (2, "198.51.100.1", "10.0.0.2", "198.51.100.1"),  # fewer hops than proxies: the first one
        (1, "not-an-address", "10.0.0.2", None),  # never a made-up value
        (0, "", "", None),
        (1, "2001:db8::1", "10.0.0.2", "2001:db8::1"),
    ],
)
def test_client_ip(trusted, forwarded, peer, expected):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with app.test_request_context("/", headers=headers, environ_base={"REMOTE_ADDR": peer}):
        assert client_ip(trusted) == expected
