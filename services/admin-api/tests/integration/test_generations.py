"""Generations and jobs through the gateway, against the real generation service (offline model,
local object store) and its runner, run directly in the tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import generation.bootstrap as generation_bootstrap
from admin_api.adapters.tables import client, product
from admin_api.clients.platform import Platform
from admin_api.testing import tag
from generation.domain.model import Product
from generation.domain.ports import ErrorClass, GeneratedImage, ImageRequest, ProviderError
from generation.entrypoints.runner import build_runner
from generation.service_layer.commands import SubmitJob
from scenergy.common.identity import Role
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import ADMIN

UNKNOWN_JOB = "job_01jd0000000000000000000000"
UNKNOWN_ASSET = "ast_01jd0000000000000000000000"

JOB_DEBUG_INFO = {  # the seed's JobDebugInfo, in the API's snake_case
    "job_id",
    "client_id",
    "generation_flow_id",
    "products",
    "prompt",
    "settings",
    "inspiration_images",
    "status",
    "progress",
    "started_at",
    "completed_at",
    "duration_ms",
    "generated_asset_id",
    "asset_url",
    "error_message",
    "error_stack",
    "tokens_used",
    "estimated_cost",
}


class DownProvider:
    """A model that answers 503: with one attempt per job, every job dies."""

    name = "down"

    def generate(self, request: ImageRequest) -> GeneratedImage:
        raise ProviderError(ErrorClass.SERVER_ERROR, "the model answered 503", http_status=503)


@pytest.fixture
def run(generation_container: Any) -> Callable[[str], str]:
    """Run a job's attempt now, as a worker would after taking its message."""

    def run_job(job_id: str) -> str:
        return build_runner(generation_container, worker_id="t").run(job_id)

    return run_job


@pytest.fixture
def submit(generation_container: Any) -> Callable[..., Any]:
    """A job submitted straight to the service as an admin: in the admin space, or a client's (charging nobody)."""

    def make(client_id: str = "", name: str = "Gray velvet sofa") -> Any:
        cmd = SubmitJob(
            client_id=client_id,
            admin_space=not client_id,
            products=[Product(new_id("prd"), name)],
            room_type="living_room",
            style="scandinavian",
            aspect_ratio="16:9",
        )
        return generation_container.commands.submit(cmd, ADMIN)

    return make


@pytest.fixture
def make_product(container: Any, directory_client: Callable[..., str]) -> Callable[..., str]:
    def make(name: str = "Oak dining table", client_id: str | None = None) -> str:
        product_id = new_id("prd")
        with container.engine.begin() as conn:
            conn.execute(
                product.insert().values(
                    id=product_id,
                    client_id=client_id or directory_client(f"Products {tag()}"),
                    name=name,
                    category="Tables",
                    source="uploaded",
                    image_url="https://cdn.example/table.jpg",
                )
            )
        return product_id

    return make


@pytest.fixture
def dying_container(generation_container: Any) -> Iterator[Any]:
    """The generation service with the model down and one attempt per job, on the same database."""
    settings = dataclasses.replace(generation_container.settings, max_attempts=1, db_pool_size=2)
    built = generation_bootstrap.bootstrap(
        settings, process="test-dying", provider=DownProvider(), storage=generation_container.storage
    )
    yield built
    built.close()


def fresh_stats(generation_container: Any) -> None:
    """The service keeps its dashboard figures a few seconds; the test wants today's at once."""
    generation_container.views._stats_cache = None


# --- admin generation, the browser and the job debugger ---------------------------------------


def test_an_admin_generation_runs_shows_in_the_browser_and_its_job_has_every_debug_field(sign_in, make_product, run):
    admin = sign_in(Role.ADMIN)
    product_id = make_product(f"Oak table {tag()}")
    response = admin.post(
        "/api/admin/generate",
        json={
            "product_ids": [product_id],
            "settings": {"room_type": "dining_room", "style": "japandi", "aspect_ratio": "4:3"},
            "instructions": "Morning light",
        },
        headers={"Idempotency-Key": f"gen-{tag()}"},
    )
    assert response.status_code == 201, response.get_json()
    job = response.get_json()
    assert job["admin_space"] and job["client_id"] is None and job["status"] == "pending"
    assert job["settlement"] == "none" and job["submitted_by"] == admin.admin["id"]

    assert run(job["id"]) == "completed"

    assets = admin.get("/api/admin/generations", query_string={"admin_generated": "yes", "include_total": "true"})
    assert assets.status_code == 200
    body = assets.get_json()
    (asset,) = [a for a in body["items"] if a["job_id"] == job["id"]]
    assert asset["is_admin_generated"] and asset["gallery_client_id"] is None and asset["approval_status"] == "pending"
    assert asset["product_names"][0].startswith("Oak table") and asset["url"] and body["total"] >= 1
    assert all(a["is_admin_generated"] for a in body["items"])
    client_only = admin.get("/api/admin/generations", query_string={"admin_generated": "no", "limit": 100})
    assert job["id"] not in {a["job_id"] for a in client_only.get_json()["items"]}

    detail = admin.get(f"/api/admin/generations/{asset['id']}").get_json()
    assert "dining room featuring Oak table" in detail["prompt"] and "Morning light" in detail["prompt"]
    assert detail["settings"]["style"] == "japandi" and detail["settings"]["aspect_ratio"] == "4:3"
    assert detail["products"] == [
        {
            "id": product_id,
            "name": asset["product_names"][0],
            "image_url": "https://cdn.example/table.jpg",
            "description": "Tables",
        }
    ]
    assert detail["job"]["id"] == job["id"] and detail["job"]["status"] == "completed"

    debug = admin.get(f"/api/admin/jobs/{job['id']}")
    assert debug.status_code == 200
    info = debug.get_json()
    assert set(info) >= JOB_DEBUG_INFO
    assert info["job_id"] == job["id"] and info["client_id"] is None and info["generation_flow_id"] is None
    assert info["status"] == "completed" and info["progress"] == 100
    assert info["generated_asset_id"] == asset["id"] and info["asset_url"]
    assert info["started_at"] and info["completed_at"] and info["duration_ms"] is not None
    # The offline model reports no usage: it ran, so zero tokens and a zero cost, priced with today's table.
    assert info["tokens_used"] == 0 and info["estimated_cost"] == 0.0 and info["price_version"]
    assert info["error_message"] is None and info["error_stack"] is None and info["inspiration_images"] == []
    assert info["queue_ms"] is not None and info["processing_ms"] is not None
    assert info["prompt"] == detail["prompt"] and info["products"] == detail["products"]
    assert [a["outcome"] for a in info["attempts"]] == ["completed"]
    assert [(t["from_status"], t["to_status"]) for t in info["transitions"]] == [
        (None, "pending"),
        ("pending", "generating"),
        ("generating", "completed"),
    ]


def test_generate_refuses_unknown_or_repeated_products_and_bad_settings(sign_in, make_product):
    admin = sign_in(Role.ADMIN)
    known = make_product()
    unknown = new_id("prd")
    response = admin.post("/api/admin/generate", json={"product_ids": [known, unknown]})
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["product_ids"] == [unknown]
    assert unknown in response.get_json()["error"]["message"]
    for bad in (
        {"product_ids": []},
        {"product_ids": [known, known]},
        {"product_ids": ["not an id"]},
        {"product_ids": [known], "settings": {"style": "baroque-punk"}},
        {"product_ids": [known], "settings": {"aspect_ratio": "2:1"}},
        {"product_ids": [known], "inspiration_images": ["http://insecure.example/a.jpg"]},
        {"product_ids": [known], "instructions": "x" * 2001},
        {"product_ids": [known], "extra": 1},
    ):
        assert admin.post("/api/admin/generate", json=bad).status_code == 400, bad


def test_a_retried_generate_with_its_idempotency_key_makes_one_job(sign_in, make_product):
    admin = sign_in(Role.ADMIN)
    body = {"product_ids": [make_product()]}
    key = {"Idempotency-Key": f"gen-once-{tag()}"}
    first = admin.post("/api/admin/generate", json=body, headers=key)
    again = admin.post("/api/admin/generate", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]


# --- review, delete, transfer ------------------------------------------------------------------


def test_review_transfer_and_delete_an_admin_generated_asset(
    sign_in, submit, run, directory_client, container, generation_container
):
    admin = sign_in(Role.ADMIN)
    job = submit()
    run(job.id)
    asset_id = "ast_" + job.id.removeprefix("job_")

    approved = admin.patch(f"/api/admin/generations/{asset_id}", json={"approval_status": "approved", "note": "ok"})
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["approval_status"] == "approved"
    assert approved.get_json()["reviewed_by"] == admin.admin["id"] and approved.get_json()["review_note"] == "ok"
    assert admin.patch(f"/api/admin/generations/{asset_id}", json={"approval_status": "maybe"}).status_code == 400
    assert admin.patch(f"/api/admin/generations/{asset_id}", json={}).status_code == 400
    listed = admin.get("/api/admin/generations", query_string={"approval_status": "approved", "limit": 100})
    assert asset_id in {a["id"] for a in listed.get_json()["items"]}

    unknown = admin.post(f"/api/admin/generations/{asset_id}/transfer", json={"client_id": new_id("cli")})
    assert unknown.status_code == 404
    gone = directory_client(f"Gone {tag()}")
    with container.engine.begin() as conn:
        conn.execute(client.update().where(client.c.id == gone).values(deleted_at=sa.func.now()))
    assert admin.post(f"/api/admin/generations/{asset_id}/transfer", json={"client_id": gone}).status_code == 409
    assert admin.post(f"/api/admin/generations/{asset_id}/transfer", json={"client_id": "acme"}).status_code == 400

    name = f"Cozy Living {tag()}"
    target = directory_client(name)
    moved = admin.post(f"/api/admin/generations/{asset_id}/transfer", json={"client_id": target})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["gallery_client_id"] == target and moved.get_json()["transferred_to_client_id"] == target
    assert moved.get_json()["gallery_client_name"] == name and moved.get_json()["transferred_at"]
    assert admin.post(f"/api/admin/generations/{asset_id}/transfer", json={"client_id": target}).status_code == 409

    tab = admin.get(f"/api/admin/clients/{target}/generations").get_json()
    assert [a["id"] for a in tab["items"]] == [asset_id]
    assert admin.get("/api/admin/generations", query_string={"client_id": target}).get_json()["items"][0]["id"] == (
        asset_id
    )
    detail = admin.get(f"/api/admin/clients/{target}").get_json()
    assert detail["stats"]["generation"]["generations"] == 1 and "generation" not in detail["degraded"]
    assert admin.get(f"/api/admin/clients/{gone}/generations").status_code == 404

    deleted = admin.delete(f"/api/admin/generations/{asset_id}", json={"reason": "off-brand"})
    assert deleted.status_code == 200 and deleted.get_json()["deleted_at"]
    assert admin.delete(f"/api/admin/generations/{asset_id}").status_code == 409
    assert admin.patch(f"/api/admin/generations/{asset_id}", json={"approval_status": "rejected"}).status_code == 409
    assert admin.get(f"/api/admin/clients/{target}/generations").get_json()["items"] == []
    with_deleted = admin.get(f"/api/admin/clients/{target}/generations", query_string={"include_deleted": "true"})
    assert [a["id"] for a in with_deleted.get_json()["items"]] == [asset_id]


def test_a_client_jobs_asset_can_not_be_transferred(sign_in, submit, run, directory_client):
    admin = sign_in(Role.ADMIN)
    owner = directory_client(f"Owner {tag()}")
    job = submit(owner)
    run(job.id)
    asset_id = "ast_" + job.id.removeprefix("job_")
    other = directory_client(f"Other {tag()}")
    response = admin.post(f"/api/admin/generations/{asset_id}/transfer", json={"client_id": other})
    assert response.status_code == 409
    assert "admin-generated" in response.get_json()["error"]["message"]
    asset = admin.get(f"/api/admin/generations/{asset_id}").get_json()["asset"]
    assert not asset["is_admin_generated"] and asset["gallery_client_id"] == owner and asset["client_name"]


# --- cancel, regenerate, the active-jobs poll -----------------------------------------------------


def test_cancel_and_regenerate(sign_in, submit, run):
    admin = sign_in(Role.ADMIN)
    pending = submit()
    cancelled = admin.post(f"/api/admin/jobs/{pending.id}/cancel", json={"reason": "wrong product"})
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["status"] == "cancelled" and cancelled.get_json()["cancelled_by"] == admin.admin["id"]
    assert admin.post(f"/api/admin/jobs/{pending.id}/cancel", json={}).status_code == 409
    assert run(pending.id) == "skipped"
    failed = admin.get("/api/admin/jobs", query_string={"view": "failed", "status": "cancelled", "limit": 100})
    assert pending.id in {j["id"] for j in failed.get_json()["items"]}

    done = submit()
    run(done.id)
    key = {"Idempotency-Key": f"regen-{tag()}"}
    again = admin.post(f"/api/admin/jobs/{done.id}/regenerate", headers=key)
    assert again.status_code == 201, again.get_json()
    new = again.get_json()
    assert new["regenerated_from"] == done.id and new["id"] != done.id and new["status"] == "pending"
    assert admin.post(f"/api/admin/jobs/{done.id}/regenerate", headers=key).get_json()["id"] == new["id"]
    assert run(new["id"]) == "completed"
    assert admin.get(f"/api/admin/jobs/{new['id']}").get_json()["regenerated_from"] == done.id

    assert admin.post(f"/api/admin/jobs/{UNKNOWN_JOB}/cancel", json={}).status_code == 404
    assert admin.post(f"/api/admin/jobs/{UNKNOWN_JOB}/regenerate").status_code == 404
    assert admin.get(f"/api/admin/jobs/{UNKNOWN_JOB}").status_code == 404


def test_the_active_jobs_poll_answers_304_while_nothing_changed(sign_in, submit):
    admin = sign_in(Role.VIEWER)
    job = submit()
    first = admin.get("/api/admin/jobs/active")
    assert first.status_code == 200
    body = first.get_json()
    etag = first.headers["ETag"]
    assert etag == f'"{body["etag"]}"'
    assert job.id in {j["id"] for j in body["items"]} and body["pending"] >= 1

    unchanged = admin.get("/api/admin/jobs/active", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.get_data() == b"" and unchanged.headers["ETag"] == etag
    listed = admin.get("/api/admin/jobs/active", headers={"If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304

    writer = sign_in(Role.ADMIN)
    writer.post(f"/api/admin/jobs/{job.id}/cancel", json={})
    changed = admin.get("/api/admin/jobs/active", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert job.id not in {j["id"] for j in changed.get_json()["items"]}

    active = admin.get("/api/admin/jobs", query_string={"view": "active", "include_total": "true"}).get_json()
    assert active["total"] is not None and all(j["status"] in ("pending", "generating") for j in active["items"])


# --- dead jobs ----------------------------------------------------------------------------------


def test_dead_jobs_preview_then_retry_with_the_confirmed_count(
    sign_in, directory_client, dying_container, generation_container, run
):
    admin = sign_in(Role.ADMIN)
    client_id = directory_client(f"Unlucky {tag()}")
    cmd = SubmitJob(client_id=client_id, admin_space=False, products=[Product(new_id("prd"), "Lamp")])
    job = dying_container.commands.submit(cmd, ADMIN)
    assert build_runner(dying_container, worker_id="dying").run(job.id) == "dead"

    dead = admin.get("/api/admin/jobs/dead", query_string={"client_id": client_id})
    assert dead.status_code == 200
    assert dead.get_json()["total"] == 1 and dead.get_json()["items"][0]["error_class"] == "server_error"
    info = admin.get(f"/api/admin/jobs/{job.id}").get_json()
    assert info["status"] == "dead" and info["error_message"] == "the model answered 503"
    assert info["attempts"][0]["http_status"] == 503 and info["generated_asset_id"] is None
    assert info["asset_url"] is None and info["client_name"] and info["estimated_cost"] is None

    preview = admin.post("/api/admin/jobs/dead/retry-preview", json={"client_id": client_id})
    assert preview.status_code == 200, preview.get_json()
    p = preview.get_json()
    assert p["count"] == 1 and p["by_error_class"] == [{"key": "server_error", "count": 1}]
    assert p["by_client"][0]["client_id"] == client_id and p["by_client"][0]["client_name"].startswith("Unlucky")
    assert [j["id"] for j in p["sample"]] == [job.id] and p["preview_token"] and p["expires_at"]

    retry = {"preview_token": p["preview_token"], "reason": "the model is back"}
    wrong = admin.post("/api/admin/jobs/dead/retry", json={**retry, "confirmed_count": 2})
    assert wrong.status_code == 400 and "does not match" in wrong.get_json()["error"]["message"]
    assert (
        admin.post("/api/admin/jobs/dead/retry", json={**retry, "confirmed_count": 1, "reason": ""}).status_code == 400
    )
    assert admin.post("/api/admin/jobs/dead/retry", json={**retry, "preview_token": "forged", "confirmed_count": 1}).status_code == 400  # fmt: skip
    done = admin.post("/api/admin/jobs/dead/retry", json={**retry, "confirmed_count": 1})
    assert done.status_code == 200, done.get_json()
    operation = done.get_json()
    assert operation["status"] == "running" and operation["confirmed_count"] == 1 and operation["total_count"] == 1
    assert operation["filter"] == {"client_id": client_id, "error_class": None}

    generation_container.dead_jobs.pace()  # the worker's pacer enqueues it, then closes the operation
    generation_container.dead_jobs.pace()
    closed = admin.get(f"/api/admin/jobs/bulk-operations/{operation['id']}").get_json()
    assert closed["status"] == "completed" and closed["enqueued_count"] == 1 and closed["finished_at"]
    listed = admin.get("/api/admin/jobs/bulk-operations").get_json()["items"]
    assert operation["id"] in {o["id"] for o in listed}
    assert run(job.id) == "completed"
    assert admin.get("/api/admin/jobs/dead", query_string={"client_id": client_id}).get_json()["total"] == 0
    assert admin.get("/api/admin/jobs/bulk-operations/bop_01jd0000000000000000000000").status_code == 404


# --- roles and bad input ------------------------------------------------------------------------


def test_a_viewer_reads_but_gets_403_on_every_generation_mutation(sign_in, submit, run, directory_client):
    viewer = sign_in(Role.VIEWER)
    job = submit()
    run(job.id)
    asset_id = "ast_" + job.id.removeprefix("job_")
    target = directory_client()
    mutations = [
        ("patch", f"/api/admin/generations/{asset_id}", {"approval_status": "approved"}),
        ("delete", f"/api/admin/generations/{asset_id}", {}),
        ("post", f"/api/admin/generations/{asset_id}/transfer", {"client_id": target}),
        ("post", f"/api/admin/jobs/{job.id}/regenerate", {}),
        ("post", f"/api/admin/jobs/{job.id}/cancel", {}),
        ("post", "/api/admin/generate", {"product_ids": [new_id("prd")]}),
        ("post", "/api/admin/jobs/dead/retry-preview", {}),
        ("post", "/api/admin/jobs/dead/retry", {"preview_token": "x", "confirmed_count": 1, "reason": "why"}),
    ]
    for method, path, body in mutations:
        response = getattr(viewer, method)(path, json=body)
        assert response.status_code == 403, (method, path, response.status_code)
    asset = viewer.get(f"/api/admin/generations/{asset_id}").get_json()["asset"]
    assert asset["approval_status"] == "pending" and asset["deleted_at"] is None and asset["gallery_client_id"] is None
    for path in ("/api/admin/generations", "/api/admin/jobs", f"/api/admin/jobs/{job.id}", "/api/admin/jobs/dead"):
        assert viewer.get(path).status_code == 200, path


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/admin/generations", {"limit": 1000}),
        ("/api/admin/generations", {"approval_status": "maybe"}),
        ("/api/admin/generations", {"admin_generated": "sometimes"}),
        ("/api/admin/generations", {"has_errors": "1"}),
        ("/api/admin/generations", {"client_id": "acme"}),
        ("/api/admin/generations", {"cursor": "not-a-cursor"}),
        ("/api/admin/generations", {"created_from": "2026-01-02T00:00:00Z", "created_to": "2026-01-01T00:00:00Z"}),
        ("/api/admin/generations", {"created_from": "yesterday"}),
        ("/api/admin/jobs", {"limit": 1000}),
        ("/api/admin/jobs", {"view": "stuck"}),
        ("/api/admin/jobs", {"status": "lost"}),
        ("/api/admin/jobs", {"client_id": "usr_01jd0000000000000000000000"}),
        ("/api/admin/jobs/dead", {"limit": 0}),
        ("/api/admin/jobs/dead", {"error_class": "Server Error"}),
        ("/api/admin/jobs/active", {"client_id": "admin"}),
        ("/api/admin/jobs/bulk-operations", {"limit": 101}),
        ("/api/admin/generations/not-an-id", {}),
        (f"/api/admin/generations/{UNKNOWN_JOB}", {}),
        ("/api/admin/jobs/job-123", {}),
        ("/api/admin/jobs/bulk-operations/op-1", {}),
    ],
)
def test_bad_input_is_400(sign_in, path, query):
    admin = sign_in(Role.VIEWER)
    response = admin.get(path, query_string=query)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] in ("invalid_request", "invalid_argument", "invalid_cursor")


def test_unknown_ids_are_404_and_bad_bodies_400(sign_in):
    admin = sign_in(Role.ADMIN)
    assert admin.get(f"/api/admin/generations/{UNKNOWN_ASSET}").status_code == 404
    assert (
        admin.patch(f"/api/admin/generations/{UNKNOWN_ASSET}", json={"approval_status": "approved"}).status_code == 404
    )
    assert admin.delete(f"/api/admin/generations/{UNKNOWN_ASSET}").status_code == 404
    assert admin.post("/api/admin/generations/bad-id/transfer", json={"client_id": new_id("cli")}).status_code == 400
    assert admin.post(f"/api/admin/jobs/{UNKNOWN_JOB}/cancel", json={"reason": "x" * 501}).status_code == 400
    assert admin.post(f"/api/admin/jobs/{UNKNOWN_JOB}/cancel", json={"why": "x"}).status_code == 400
    assert admin.post("/api/admin/jobs/dead/retry-preview", json={"client_id": "acme"}).status_code == 400
    assert admin.post("/api/admin/jobs/dead/retry", json={"preview_token": "x", "reason": "why"}).status_code == 400


# --- the dashboard and the client detail ----------------------------------------------------------


def test_the_dashboard_shows_the_generation_figures_with_client_names(
    sign_in, submit, run, directory_client, generation_container
):
    admin = sign_in(Role.VIEWER)
    name = f"Top Client {tag()}"
    busy = directory_client(name)
    for _ in range(6):
        run(submit(busy).id)
    waiting = submit()
    fresh_stats(generation_container)
    body = admin.get("/api/admin/dashboard").get_json()
    figures = body["generation"]
    assert figures["generations_today"] >= 6 and figures["generations_month"] >= figures["generations_today"] > 0
    assert {"client_id": busy, "client_name": name, "generations": 6} in figures["top_clients_30d"]
    # Health depends on every attempt of the last 15 minutes in this shared database; its rule has unit tests.
    assert figures["pending"] >= 1 and figures["provider"] == "offline"
    assert figures["provider_health"] in ("healthy", "degraded", "down")
    assert figures["storage_bytes"] > 0 and 0 <= figures["error_rate_24h"] <= 1
    active = body["active_jobs"]
    assert active["pending"] >= 1 and len(active["items"]) <= 10
    assert all(j["status"] in ("pending", "generating") for j in active["items"])
    assert {h["service"]: h["status"] for h in body["system_health"]}["generation"] == "healthy"
    assert waiting.id in {j["id"] for j in active["items"]} or active["pending"] > 10


def test_the_dashboard_and_client_detail_render_when_generation_is_down(
    sign_in, container, directory_client, monkeypatch
):
    admin = sign_in(Role.ADMIN)
    client_id = directory_client()
    s = container.settings
    broken = Platform.connect(
        credits_addr=s.credits_addr,
        audit_addr=s.audit_addr,
        generation_addr="127.0.0.1:1",
        payments_addr=s.payments_addr,
        credential_key=s.service_credential_key,
        deadline_s=1.0,
    )
    monkeypatch.setattr(container, "platform", broken)
    try:
        dashboard = admin.get("/api/admin/dashboard")
        detail = admin.get(f"/api/admin/clients/{client_id}")
        listing = admin.get("/api/admin/generations")
    finally:
        broken.close()
    assert dashboard.status_code == 200
    body = dashboard.get_json()
    assert body["generation"] is None and body["active_jobs"] is None and body["credits"] is not None
    assert {h["service"]: h["status"] for h in body["system_health"]}["generation"] == "down"
    assert detail.status_code == 200
    assert detail.get_json()["stats"]["generation"] is None and detail.get_json()["degraded"] == ["generation"]
    assert listing.status_code == 503 and listing.get_json()["error"]["code"] == "service_unavailable"
