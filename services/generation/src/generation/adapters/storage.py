"""Object storage for generated images: S3 or Cloudflare R2 in production, a directory on disk in the embedded run.

Both implement `generation.domain.ports.ObjectStorage`. Keys are checked by the same rule in both, so a key that
works in the embedded run works in production too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, Response, jsonify, request, send_file

from generation.domain.ports import StorageError, StoredObject

MAX_KEY_LENGTH = 512
MAX_SEGMENT_LENGTH = 255  # a file name on disk (NAME_MAX)
MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4's limit
_KEY_CHARS = re.compile(r"[A-Za-z0-9._/-]+")
_NAME_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def validate_key(key: str) -> str:
    """Return `key` when it is a safe relative object key, else raise ValueError.

    Safe: 1..512 characters of `[A-Za-z0-9._/-]`, relative, no empty, `.` or `..` segment, no segment starting with a
    dot (the local store's temp files are dot files) or longer than 255 characters (a file name on disk).
    Backslashes, NUL and the like fall outside the charset.
    """
    if not isinstance(key, str) or not key:
        raise ValueError("object key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"object key longer than {MAX_KEY_LENGTH} characters")
    if "\\" in key or "\x00" in key:
        raise ValueError("object key contains a backslash or NUL")
    if not _KEY_CHARS.fullmatch(key):
        raise ValueError("object key contains characters outside [A-Za-z0-9._/-]")
    if key.startswith("/"):
        raise ValueError("object key must be relative")
    parts = key.split("/")
    if any(not part or part.startswith(".") for part in parts):
        raise ValueError("object key has an empty, '.', '..' or hidden segment")
    if any(len(part) > MAX_SEGMENT_LENGTH for part in parts):
        raise ValueError(f"object key has a segment longer than {MAX_SEGMENT_LENGTH} characters")
    return key


def asset_key(owner: str, job_id: str, extension: str = "png") -> str:
    """The object key of a job's image: `assets/{owner}/{job_id[-2:]}/{job_id}.{ext}`.

    Deterministic on purpose: a worker that dies after the upload but before recording it is re-run and overwrites
    the same object, instead of leaving an orphan nobody references. The `job_id[-2:]` level spreads keys over
    prefixes (S3 partitions by prefix; a directory on disk stays small). `owner` is the client id or "admin".
    """
    ext = extension.lower().removeprefix(".")
    for label, value in (("owner", owner), ("job_id", job_id), ("extension", ext)):
        if not _NAME_PART.fullmatch(value):
            raise ValueError(f"invalid {label} for an asset key: {value!r}")
    if len(job_id) < 2:
        raise ValueError("job_id must have at least 2 characters")
    return validate_key(f"assets/{owner}/{job_id[-2:]}/{job_id}.{ext}")


def _check_expiry(expires_s: int) -> None:
    if not 0 < expires_s <= MAX_PRESIGN_S:
        raise ValueError(f"expires_s must be within 1..{MAX_PRESIGN_S}")


# --- S3 / R2 ---------------------------------------------------------------------------------------------------


class S3Storage:
    """S3, or anything that speaks its API (Cloudflare R2, MinIO, moto) when `endpoint_url` is given.

    With an `endpoint_url` the region defaults to "auto" (what R2 expects) and keys are addressed path-style, which
    local servers need. The boto3 client is built once; boto3 clients are thread-safe, so workers share it.
    """

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
        public_endpoint_url: str | None = None,
        connect_timeout_s: float = 5,
        read_timeout_s: float = 30,
        max_attempts: int = 3,
    ) -> None:
        if not bucket:
            raise ValueError("bucket is required")
        if (access_key_id is None) != (secret_access_key is None):
            raise ValueError("give both access_key_id and secret_access_key, or neither (default credential chain)")
        self.bucket = bucket
        self.region = region or ("auto" if endpoint_url else "us-east-1")
        self.prefix = "/".join(part for part in prefix.split("/") if part)
        if self.prefix:
            validate_key(self.prefix)
        # Not the default session: its lazy set-up isn't thread-safe, and the credentials stay with this instance.
        session = boto3.session.Session(
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, region_name=self.region
        )
        config = Config(
            signature_version="s3v4",  # R2 accepts only SigV4
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={
                "mode": "standard",
                "total_max_attempts": max_attempts,
            },  # "max_attempts" would not count the first
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            # We send Content-MD5 ourselves; botocore's default CRC32 trailer (since 1.36) isn't understood by every
            # S3-compatible store, so checksums are added only when an operation requires one.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)
        # Presigned URLs are signed for the host the browser uses, which may differ from ours (e.g. in a container).
        self._presign_client: Any = (
            session.client("s3", endpoint_url=public_endpoint_url, config=config)
            if public_endpoint_url
            else self._client
        )

    def _key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, operation: str, **params: Any) -> Any:
        """One client call; every botocore failure becomes a StorageError."""
        try:
            return getattr(self._client, operation)(Bucket=self.bucket, **params)
        except (ClientError, BotoCoreError) as exc:
            raise _storage_error(operation, exc) from exc

    def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        # Content-MD5 makes the store refuse a body that doesn't match it (a truncated upload) with BadDigest.
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")
        response = self._call("put_object", Key=self._key(key), Body=data, ContentType=content_type, ContentMD5=md5)
        return StoredObject(key=key, size_bytes=len(data), etag=str(response.get("ETag", "")).strip('"'))

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=self._key(key))  # S3 answers 204 for a missing key too

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND_CODES:
                return False
            raise _storage_error("head_object", exc) from exc
        except BotoCoreError as exc:
            raise _storage_error("head_object", exc) from exc
        return True

    def presigned_url(self, key: str, *, expires_s: int = 900) -> str:
        _check_expiry(expires_s)
        try:
            url: str = self._presign_client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_s
            )
        except BotoCoreError as exc:  # signing is local: only missing credentials and the like
            raise _storage_error("presign", exc) from exc
        return url

    def check(self) -> None:
        self._call("head_bucket")

    def ensure_bucket(self) -> None:
        """Create the bucket if missing: for the embedded run and tests only; production buckets are provisioned."""
        params: dict[str, Any] = {}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._client.create_bucket(Bucket=self.bucket, **params)
        except ClientError as exc:
            if _error_code(exc) != "BucketAlreadyOwnedByYou":
                raise _storage_error("create_bucket", exc) from exc
        except BotoCoreError as exc:
            raise _storage_error("create_bucket", exc) from exc


def _storage_error(operation: str, exc: ClientError | BotoCoreError) -> StorageError:
    """A short message: the operation and the error code or class. Never the request, which may carry a signature."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return StorageError(f"s3 {operation} failed: {_error_code(exc)} (HTTP {status})")
    return StorageError(f"s3 {operation} failed: {type(exc).__name__}")


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "unknown"))


# --- Local disk --------------------------------------------------------------------------------------------------


class LocalStorage:
    """The embedded run's object store: files under `root`, served by `local_objects_blueprint` with signed URLs.

    The URLs mimic presigned S3 URLs (an expiry and an HMAC-SHA256 signature), so the rest of the platform treats
    both stores alike. The content type is not stored; it follows from the key's extension.
    """

    name = "local"

    def __init__(self, root: Path, *, base_url: str, signing_key: str, clock: Callable[[], float] = time.time) -> None:
        if not signing_key:
            raise ValueError("signing_key is required")
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")
        self._signing_key = signing_key.encode("utf-8")
        self._clock = clock
        self.root.mkdir(parents=True, exist_ok=True)
        self._resolved_root = self.root.resolve()

    def path_for(self, key: str) -> Path:
        """The file of `key` (which may not exist); ValueError for an unsafe key."""
        path = self.root / validate_key(key)
        # The key rule already rules out escapes; this also catches a symlinked directory under root.
        if not path.resolve().is_relative_to(self._resolved_root):
            raise ValueError("object key resolves outside the storage root")
        return path

    def open(self, key: str) -> BinaryIO:
        """The object for reading; FileNotFoundError when it is missing."""
        return self.path_for(key).open("rb")

    def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        path = self.path_for(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write a temp file next to the target and rename it over: readers see the old or the new object, never
            # a partial one, and a crash leaves at most a dot file behind.
            fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as tmp:
                    tmp.write(data)
                    tmp.flush()
                    os.fsync(tmp.fileno())
                os.replace(tmp_name, path)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StorageError(f"local put failed: {exc.strerror or type(exc).__name__}") from exc
        return StoredObject(key=key, size_bytes=len(data), etag=hashlib.md5(data, usedforsecurity=False).hexdigest())

    def delete(self, key: str) -> None:
        try:
            self.path_for(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"local delete failed: {exc.strerror or type(exc).__name__}") from exc

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def presigned_url(self, key: str, *, expires_s: int = 900) -> str:
        validate_key(key)
        _check_expiry(expires_s)
        expires = int(self._clock()) + expires_s
        return f"{self.base_url}/objects/{key}?expires={expires}&signature={self._sign(key, expires)}"

    def check(self) -> None:
        if not (self.root.is_dir() and os.access(self.root, os.W_OK)):
            raise StorageError("local storage root is missing or not writable")

    def verify(self, key: str, expires: int | str, signature: str) -> bool:
        """Whether a URL's `expires` and `signature` are genuine for `key` and not yet expired."""
        return self.refusal(key, expires, signature) is None

    def refusal(self, key: str, expires: int | str, signature: str) -> str | None:
        """Why a signed URL is refused ("invalid_signature" or "url_expired"), or None when it is good."""
        try:
            validate_key(key)
            expires_at = int(expires)
        except (TypeError, ValueError):
            return "invalid_signature"
        if not hmac.compare_digest(self._sign(key, expires_at), str(signature)):
            return "invalid_signature"
        if expires_at < self._clock():
            return "url_expired"
        return None

    def seconds_left(self, expires: int | str) -> int:
        return max(0, int(int(expires) - self._clock()))

    def _sign(self, key: str, expires: int) -> str:
        # The newline keeps ("a1", 23) and ("a", 123) apart.
        return hmac.new(self._signing_key, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; not every platform can open a directory, and then there is nothing to do."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def local_objects_blueprint(storage: LocalStorage) -> Blueprint:
    """`GET /objects/<key>?expires=…&signature=…`: the local store's answer to a presigned S3 URL."""
    blueprint = Blueprint("local_objects", __name__)

    @blueprint.get("/objects/<path:key>")
    def get_object(key: str) -> Response | tuple[Response, int]:
        reason = storage.refusal(key, request.args.get("expires", ""), request.args.get("signature", ""))
        if reason == "url_expired":
            return _json_error("url_expired", "the link has expired", 403)
        if reason is not None:
            return _json_error("invalid_signature", "the link's signature is not valid", 403)
        try:
            path = storage.path_for(key)
            if not path.is_file():
                raise FileNotFoundError(key)
            mimetype = _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
            response = send_file(path, mimetype=mimetype, conditional=True)
        except (ValueError, FileNotFoundError):  # ValueError: a symlink out of the root
            return _json_error("not_found", "no such object", 404)
        response.headers["Cache-Control"] = f"private, max-age={storage.seconds_left(request.args['expires'])}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'"
        return response

    return blueprint


def _json_error(code: str, message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


# --- Factory -----------------------------------------------------------------------------------------------------


def build_storage(
    *,
    bucket: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    prefix: str = "",
    public_endpoint_url: str | None = None,
    local_root: Path | str | None = None,
    base_url: str = "",
    signing_key: str = "",
) -> S3Storage | LocalStorage:
    """S3Storage when a bucket is configured, else LocalStorage under `local_root` (the embedded run)."""
    if bucket:
        return S3Storage(
            bucket,
            endpoint_url=endpoint_url or None,
            region=region or None,
            access_key_id=access_key_id or None,
            secret_access_key=secret_access_key or None,
            prefix=prefix,
            public_endpoint_url=public_endpoint_url or None,
        )
    if local_root is None or not base_url or not signing_key:
        raise ValueError("without a bucket, local_root, base_url and signing_key are required")
    return LocalStorage(Path(local_root), base_url=base_url, signing_key=signing_key)
