"""S3Storage against a local S3-compatible server (moto behind scenergy_dev's S3WireServer)."""

from __future__ import annotations

import functools
import hashlib
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from generation.adapters.storage import S3Storage, asset_key
from generation.domain.ports import StorageError
from scenergy_dev.wire.s3 import S3WireServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture(scope="module")
def s3() -> Iterator[S3WireServer]:
    with S3WireServer() as server:
        yield server


@pytest.fixture
def bucket(s3: S3WireServer) -> str:
    # moto's state is process-wide: a bucket per test keeps tests independent.
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(name)
    return name


def make_storage(s3: S3WireServer, bucket: str, **kwargs: Any) -> S3Storage:
    kwargs.setdefault("region", "us-east-1")
    return S3Storage(
        bucket,
        endpoint_url=s3.endpoint_url,
        access_key_id=s3.access_key_id,
        secret_access_key=s3.secret_access_key,
        connect_timeout_s=1,
        read_timeout_s=2,
        **kwargs,
    )


@pytest.fixture
def storage(s3: S3WireServer, bucket: str) -> S3Storage:
    return make_storage(s3, bucket)


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def test_put_exists_delete(storage: S3Storage) -> None:
    key = asset_key("admin", "job-0001")
    assert not storage.exists(key)

    stored = storage.put(key, PNG, "image/png")

    assert stored.key == key
    assert stored.size_bytes == len(PNG)
    assert stored.etag == hashlib.md5(PNG).hexdigest()
    assert storage.exists(key)
    storage.delete(key)
    assert not storage.exists(key)
    storage.delete(key)  # already gone: no error
    storage.delete("never/written.png")


def test_presigned_url_serves_the_same_bytes(storage: S3Storage) -> None:
    storage.put("a/b.png", PNG, "image/png")

    status, body, content_type = fetch(storage.presigned_url("a/b.png", expires_s=60))

    assert (status, body, content_type) == (200, PNG, "image/png")


def test_presigned_url_expires(storage: S3Storage) -> None:
    storage.put("a/b.png", PNG, "image/png")
    url = storage.presigned_url("a/b.png", expires_s=1)

    time.sleep(2.1)

    status, body, _ = fetch(url)
    assert status == 403
    assert b"expired" in body


def test_presigned_url_for_the_public_endpoint(s3: S3WireServer, bucket: str) -> None:
    public = f"http://localhost:{s3.port}"
    storage = make_storage(s3, bucket, public_endpoint_url=public)
    storage.put("a/b.png", PNG, "image/png")

    url = storage.presigned_url("a/b.png")

    assert url.startswith(f"{public}/{bucket}/a/b.png?")
    assert fetch(url)[:2] == (200, PNG)


def test_prefix_is_applied(s3: S3WireServer, bucket: str) -> None:
    storage = make_storage(s3, bucket, prefix="/tenant-a//images/")
    storage.put("a/b.png", PNG, "image/png")

    raw = s3.client().head_object(Bucket=bucket, Key="tenant-a/images/a/b.png")

    assert raw["ContentLength"] == len(PNG)
    assert storage.exists("a/b.png")
    assert not make_storage(s3, bucket).exists("a/b.png")
    assert f"/{bucket}/tenant-a/images/a/b.png?" in storage.presigned_url("a/b.png")
    storage.delete("a/b.png")
    assert not storage.exists("a/b.png")


def test_overwrite_same_key(storage: S3Storage) -> None:
    storage.put("a/b.png", b"first", "image/png")

    stored = storage.put("a/b.png", PNG, "image/png")

    assert stored.size_bytes == len(PNG)
    assert fetch(storage.presigned_url("a/b.png"))[1] == PNG


def test_content_type_is_stored(storage: S3Storage, s3: S3WireServer, bucket: str) -> None:
    storage.put("a/b.webp", b"RIFF....WEBP", "image/webp")

    assert s3.client().head_object(Bucket=bucket, Key="a/b.webp")["ContentType"] == "image/webp"


def test_truncated_upload_is_refused(storage: S3Storage) -> None:
    def truncate(request: Any, **_: Any) -> None:  # the body loses its last byte on the way
        body = request.body.read() if hasattr(request.body, "read") else request.body
        request.body = body[:-1]
        request.headers["Content-Length"] = str(len(body) - 1)

    storage._client.meta.events.register("before-send.s3.PutObject", truncate)

    with pytest.raises(StorageError, match="BadDigest"):
        storage.put("a/b.png", PNG, "image/png")
    assert not storage.exists("a/b.png")


def test_check(storage: S3Storage) -> None:
    storage.check()


def test_unknown_bucket(s3: S3WireServer) -> None:
    storage = make_storage(s3, f"missing-{uuid.uuid4().hex[:12]}")

    with pytest.raises(StorageError, match="head_bucket"):
        storage.check()
    with pytest.raises(StorageError, match="NoSuchBucket"):
        storage.put("a/b.png", PNG, "image/png")
    with pytest.raises(StorageError, match="NoSuchBucket"):
        storage.delete("a/b.png")


def test_stopped_server_fails_fast() -> None:
    server = S3WireServer().start()
    name = f"test-{uuid.uuid4().hex[:12]}"
    server.create_bucket(name)
    storage = make_storage(server, name)
    storage.put("a/b.png", PNG, "image/png")
    server.stop()

    for call in (
        lambda: storage.put("a/b.png", PNG, "image/png"),
        lambda: storage.exists("a/b.png"),
        lambda: storage.delete("a/b.png"),
        storage.check,
    ):
        started = time.monotonic()
        with pytest.raises(StorageError, match="EndpointConnectionError"):
            call()
        assert time.monotonic() - started < 5  # refused at once; only the bounded retries' backoff (< 3 s) waits


def test_r2_style_endpoint(s3: S3WireServer) -> None:
    # R2: an endpoint URL, region "auto" (the default with an endpoint), SigV4.
    storage = S3Storage(
        f"r2-{uuid.uuid4().hex[:12]}",
        endpoint_url=s3.endpoint_url,
        access_key_id=s3.access_key_id,
        secret_access_key=s3.secret_access_key,
    )
    assert storage.region == "auto"
    storage.ensure_bucket()
    storage.ensure_bucket()  # idempotent

    storage.put("a/b.png", PNG, "image/png")
    url = storage.presigned_url("a/b.png")

    assert "%2Fauto%2Fs3%2Faws4_request" in url
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert fetch(url)[:2] == (200, PNG)
    storage.check()


def test_no_credentials_in_error_messages(s3: S3WireServer) -> None:
    key_id, secret = "AKIAEXAMPLEKEYID0001", "very-secret-value-0123456789"
    server = S3WireServer().start()
    endpoint = server.endpoint_url
    server.stop()
    storages = [
        S3Storage("missing", endpoint_url=s3.endpoint_url, access_key_id=key_id, secret_access_key=secret),
        S3Storage("missing", endpoint_url=endpoint, access_key_id=key_id, secret_access_key=secret, max_attempts=1),
    ]

    for storage in storages:
        for call in (storage.check, functools.partial(storage.put, "a/b.png", PNG, "image/png")):
            with pytest.raises(StorageError) as info:
                call()
            text = "".join(traceback.format_exception(info.value))  # the message and its whole cause chain
            assert key_id not in text
            assert secret not in text
            assert len(str(info.value)) < 100


def test_invalid_key_is_refused(storage: S3Storage) -> None:
    with pytest.raises(ValueError):
        storage.put("../escape.png", PNG, "image/png")
    with pytest.raises(ValueError):
        storage.presigned_url("/abs.png")
