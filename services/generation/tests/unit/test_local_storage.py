"""LocalStorage (the embedded run's object store), its signed URLs and the blueprint serving them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from generation.adapters.storage import (
    LocalStorage,
    S3Storage,
    asset_key,
    build_storage,
    local_objects_blueprint,
    validate_key,
)
from generation.domain.ports import StorageError

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
BASE_URL = "http://assets.test/dev"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def storage(tmp_path: Path, clock: Clock) -> LocalStorage:
    return LocalStorage(tmp_path / "objects", base_url=BASE_URL + "/", signing_key="k" * 32, clock=clock)


@pytest.fixture
def client(storage: LocalStorage) -> FlaskClient:
    app = Flask(__name__)
    app.register_blueprint(local_objects_blueprint(storage))
    return app.test_client()


def local_path(url: str) -> str:
    """The request path and query of a presigned URL, relative to the app (the base URL's path is its mount point)."""
    parts = urlsplit(url)
    return parts.path.removeprefix(urlsplit(BASE_URL).path) + "?" + parts.query


def signed_params(url: str) -> tuple[str, str]:
    query = parse_qs(urlsplit(url).query)
    return query["expires"][0], query["signature"][0]


# --- put / delete / exists -----------------------------------------------------------------------------------


def test_put_writes_the_object(storage: LocalStorage) -> None:
    key = asset_key("admin", "job-0042")

    stored = storage.put(key, PNG, "image/png")

    assert stored.key == key
    assert stored.size_bytes == len(PNG)
    assert stored.etag == hashlib.md5(PNG).hexdigest()
    assert storage.path_for(key) == storage.root / "assets/admin/42/job-0042.png"
    assert storage.path_for(key).read_bytes() == PNG
    with storage.open(key) as file:
        assert file.read() == PNG
    assert storage.exists(key)


def test_put_overwrites_and_leaves_no_temp_files(storage: LocalStorage) -> None:
    storage.put("a/b.png", b"first", "image/png")
    storage.put("a/b.png", PNG, "image/png")

    assert storage.path_for("a/b.png").read_bytes() == PNG
    assert sorted(p.name for p in (storage.root / "a").iterdir()) == ["b.png"]


def test_put_is_atomic(storage: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    storage.put("a/b.png", b"old", "image/png")

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(StorageError, match="No space left"):
        storage.put("a/b.png", PNG, "image/png")

    assert storage.path_for("a/b.png").read_bytes() == b"old"  # the old object, whole
    assert sorted(p.name for p in (storage.root / "a").iterdir()) == ["b.png"]  # the temp file is gone


def test_delete_is_idempotent(storage: LocalStorage) -> None:
    storage.put("a/b.png", PNG, "image/png")

    storage.delete("a/b.png")
    storage.delete("a/b.png")

    assert not storage.exists("a/b.png")
    with pytest.raises(FileNotFoundError):
        storage.open("a/b.png")


def test_check(storage: LocalStorage, tmp_path: Path) -> None:
    storage.check()
    storage.root.rmdir()
    with pytest.raises(StorageError):
        storage.check()


# --- keys ----------------------------------------------------------------------------------------------------

BAD_KEYS = [
    "",
    "/etc/passwd",
    "../escape.png",
    "a/../../escape.png",
    "a/..",
    "./a.png",
    "a/./b.png",
    "a//b.png",
    "a/",
    ".hidden",
    "a/.tmp-123",
    "a\\b.png",
    "..\\escape.png",
    "a\x00b.png",
    "a b.png",
    "a?b.png",
    "a%2e%2e/b.png",
    "C:/windows.png",
    "é.png",
    "a\nb.png",
    "x" * 256,
    "/".join(["x" * 255, "y" * 255, "z"]),  # 513 characters
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused(storage: LocalStorage, key: str) -> None:
    with pytest.raises(ValueError):
        validate_key(key)
    with pytest.raises(ValueError):
        storage.put(key, PNG, "image/png")
    with pytest.raises(ValueError):
        storage.path_for(key)
    with pytest.raises(ValueError):
        storage.presigned_url(key)
    assert not storage.verify(key, "9999999999", "0" * 64)


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "a.png",
        "assets/admin/42/job-0042.png",
        "A-Z_a.z/0-9.webp",
        "x" * 255,
        "/".join(["x" * 255, "y" * 254, "z"]),
    ],
)
def test_good_keys(storage: LocalStorage, key: str) -> None:
    assert validate_key(key) == key
    storage.put(key, PNG, "image/png")
    assert storage.exists(key)


def test_a_symlink_out_of_the_root_is_refused(storage: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"secret")
    (storage.root / "link").symlink_to(outside)

    with pytest.raises(ValueError):
        storage.path_for("link/secret.png")


def test_asset_key() -> None:
    assert asset_key("client-7", "01JD4K5Z9Q") == "assets/client-7/9Q/01JD4K5Z9Q.png"
    assert asset_key("admin", "ab", ".JPEG") == "assets/admin/ab/ab.jpeg"
    assert asset_key("admin", "job-1") == asset_key("admin", "job-1")  # a re-run overwrites the same object
    for owner, job_id, ext in [
        ("../x", "job-1", "png"),
        ("admin", "a/b", "png"),
        ("admin", "x", "png"),
        ("a", "j1", ""),
    ]:
        with pytest.raises(ValueError):
            asset_key(owner, job_id, ext)


# --- signatures ----------------------------------------------------------------------------------------------


def test_presigned_url_shape(storage: LocalStorage, clock: Clock) -> None:
    url = storage.presigned_url("a/b.png", expires_s=60)

    assert url.startswith(f"{BASE_URL}/objects/a/b.png?expires={int(clock.now) + 60}&signature=")
    expires, signature = signed_params(url)
    assert len(signature) == 64
    assert storage.verify("a/b.png", expires, signature)
    assert storage.verify("a/b.png", int(expires), signature)


def test_tampering_is_detected(storage: LocalStorage, tmp_path: Path) -> None:
    expires, signature = signed_params(storage.presigned_url("a/b.png", expires_s=60))
    other_key = LocalStorage(tmp_path / "other", base_url=BASE_URL, signing_key="another-key")

    assert not storage.verify("a/c.png", expires, signature)  # another key
    assert not storage.verify("a/b.png", str(int(expires) + 3600), signature)  # a later expiry
    assert not storage.verify("a/b.png", expires, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    assert not storage.verify("a/b.png", expires, signature.upper())
    assert not storage.verify("a/b.png", expires, "")
    assert not storage.verify("a/b.png", "soon", signature)
    assert not other_key.verify("a/b.png", expires, signature)  # signed with another secret


def test_expiry(storage: LocalStorage, clock: Clock) -> None:
    expires, signature = signed_params(storage.presigned_url("a/b.png", expires_s=60))

    clock.now += 60
    assert storage.verify("a/b.png", expires, signature)  # valid through its last second
    clock.now += 1
    assert not storage.verify("a/b.png", expires, signature)
    assert storage.refusal("a/b.png", expires, signature) == "url_expired"


@pytest.mark.parametrize("expires_s", [0, -1, 7 * 24 * 3600 + 1])
def test_expiry_bounds(storage: LocalStorage, expires_s: int) -> None:
    with pytest.raises(ValueError):
        storage.presigned_url("a/b.png", expires_s=expires_s)


# --- the blueprint -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "content_type"),
    [("a/b.png", "image/png"), ("a/b.jpg", "image/jpeg"), ("a/b.JPEG", "image/jpeg"), ("a/b.webp", "image/webp")],
)
def test_serves_the_object(storage: LocalStorage, client: FlaskClient, key: str, content_type: str) -> None:
    storage.put(key, PNG, content_type)

    with client.get(local_path(storage.presigned_url(key, expires_s=300))) as response:
        assert response.status_code == 200
        assert response.data == PNG
        assert response.mimetype == content_type
        assert response.headers["Cache-Control"] == "private, max-age=300"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'"


def test_conditional_get(storage: LocalStorage, client: FlaskClient) -> None:
    storage.put("a/b.png", PNG, "image/png")
    path = local_path(storage.presigned_url("a/b.png"))
    with client.get(path) as first:
        etag = first.headers["ETag"]

    with client.get(path, headers={"If-None-Match": etag}) as response:
        assert response.status_code == 304
        assert response.headers["Cache-Control"].startswith("private, max-age=")


def test_bad_signature_is_403(storage: LocalStorage, client: FlaskClient) -> None:
    storage.put("a/b.png", PNG, "image/png")
    expires, _ = signed_params(storage.presigned_url("a/b.png"))

    for query in (f"expires={expires}&signature={'0' * 64}", f"expires={expires}", "", "expires=x&signature=y"):
        response = client.get(f"/objects/a/b.png?{query}")
        assert response.status_code == 403
        assert response.json == {"error": {"code": "invalid_signature", "message": "the link's signature is not valid"}}


def test_signature_for_another_key_is_403(storage: LocalStorage, client: FlaskClient) -> None:
    storage.put("a/b.png", PNG, "image/png")
    storage.put("a/c.png", PNG, "image/png")
    url = storage.presigned_url("a/b.png")

    response = client.get(local_path(url).replace("a/b.png", "a/c.png"))

    assert response.status_code == 403


def test_expired_is_403(storage: LocalStorage, client: FlaskClient, clock: Clock) -> None:
    storage.put("a/b.png", PNG, "image/png")
    path = local_path(storage.presigned_url("a/b.png", expires_s=10))
    clock.now += 11

    response = client.get(path)

    assert response.status_code == 403
    assert response.json is not None
    assert response.json["error"]["code"] == "url_expired"


def test_missing_is_404(storage: LocalStorage, client: FlaskClient) -> None:
    response = client.get(local_path(storage.presigned_url("a/missing.png")))

    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "message": "no such object"}}


def test_a_directory_is_404(storage: LocalStorage, client: FlaskClient) -> None:
    storage.put("a/b.png", PNG, "image/png")

    assert client.get(local_path(storage.presigned_url("a"))).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/objects/../secret.png",
        "/objects/a/../../secret.png",
        "/objects/%2e%2e/secret.png",
        "/objects/..%2fsecret.png",
        "/objects/%2Fetc/passwd",
        "/objects/a%5c..%5c..%5csecret.png",
        "/objects/a%00.png",
    ],
)
def test_path_traversal_is_refused(storage: LocalStorage, client: FlaskClient, tmp_path: Path, path: str) -> None:
    (tmp_path / "secret.png").write_bytes(b"secret")

    response = client.get(f"{path}?expires=9999999999&signature={'0' * 64}")

    # 308: werkzeug decodes %2F before routing and redirects "//" to "/", i.e. into the root, never out of it.
    assert response.status_code in (403, 404, 308)
    assert b"secret" not in response.data


@pytest.mark.parametrize(
    "key", ["../secret.png", "a/../../secret.png", "..\\secret.png", ".hidden", "a//../secret.png"]
)
def test_a_bad_key_is_refused_even_when_signed(
    storage: LocalStorage, client: FlaskClient, tmp_path: Path, key: str
) -> None:
    (tmp_path / "secret.png").write_bytes(b"secret")
    (storage.root / ".hidden").write_bytes(b"secret")
    expires = 9_999_999_999
    signature = storage._sign(key, expires)  # what a leaked signing key could produce; presigned_url refuses these

    response = client.get(f"/objects/{quote(key)}?expires={expires}&signature={signature}")

    assert response.status_code in (403, 404, 308)
    assert b"secret" not in response.data


def test_a_symlink_out_of_the_root_is_404(storage: LocalStorage, client: FlaskClient, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"secret")
    (storage.root / "link").symlink_to(outside)

    response = client.get(local_path(storage.presigned_url("link/secret.png")))  # even when signed

    assert response.status_code == 404
    assert b"secret" not in response.data


# --- the factory ---------------------------------------------------------------------------------------------


def test_build_storage(tmp_path: Path) -> None:
    s3 = build_storage(bucket="assets", endpoint_url="http://127.0.0.1:9", access_key_id="a", secret_access_key="b")
    assert isinstance(s3, S3Storage)
    assert (s3.name, s3.bucket, s3.region) == ("s3", "assets", "auto")
    aws = build_storage(bucket="assets", access_key_id="a", secret_access_key="b", region="")
    assert isinstance(aws, S3Storage)
    assert aws.region == "us-east-1"

    local = build_storage(bucket="", local_root=tmp_path, base_url=BASE_URL, signing_key="k")
    assert isinstance(local, LocalStorage)
    assert local.name == "local"

    with pytest.raises(ValueError):
        build_storage(local_root=tmp_path, base_url=BASE_URL)  # no signing key
    with pytest.raises(ValueError):
        build_storage(bucket="assets", access_key_id="a")  # half the credentials
