"""Generated assets through the gateway: the browser (global and per client), the detail with its
prompt, settings, products and job, review, soft delete, and the transfer of an admin-generated
asset into a client's gallery.

The assets live in the generation service, which writes the audit events; the gateway checks
input, checks a transfer's target client in its own directory, and adds client names.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from flask import Blueprint
from pydantic import AwareDatetime, Field
from spectree import Response as Responses

from admin_api.adapters.tables import client
from admin_api.api.convert import iso, stamp
from admin_api.api.jobs import (
    CLIENT_ID,
    READ_ERRORS,
    WRITE_ERRORS,
    JobOut,
    JobSettingsOut,
    ProductOut,
    check_range,
    generation,
    job_out,
    names_of,
    opt,
    product_out,
    require_id,
    settings_out,
)
from admin_api.api.spec import Model, Out, Page, body_of, query_of, spec
from admin_api.service_layer import directory
from admin_api.web import container
from scenergy.common.http import ApiError
from scenergy.generation.v1 import generation_pb2 as pb

bp = Blueprint("generations", __name__, url_prefix="/api/admin")

YesNo = Literal["yes", "no"]
TRI_STATE = {None: 0, "yes": 1, "no": 2}  # the contract's 0 any, 1 yes, 2 no


class AssetOut(Out):
    id: str
    job_id: str
    client_id: str | None  # the generating client; null for the admin space
    client_name: str | None
    is_admin_generated: bool
    transferred_to_client_id: str | None
    transferred_at: str | None
    gallery_client_id: str | None  # whose gallery shows it: the client, or the transfer's target
    gallery_client_name: str | None
    approval_status: str  # pending | approved | rejected
    reviewed_by: str | None
    reviewed_at: str | None
    review_note: str | None
    content_type: str
    size_bytes: int
    width: int
    height: int
    url: str | None  # presigned, short-lived; null when the object is gone or the store didn't answer
    has_errors: bool  # its job needed more than one attempt
    product_names: list[str]
    model: str
    created_at: str | None
    deleted_at: str | None


class AssetsOut(Out):
    items: list[AssetOut]
    next_cursor: str | None
    total: int | None = None


class AssetDetailOut(Out):
    asset: AssetOut
    prompt: str
    settings: JobSettingsOut
    products: list[ProductOut]
    job: JobOut


class ClientGenerationStats(Out):
    """A client's generation figures, on the client detail."""

    generations: int  # images in the client's gallery (transferred ones too), not deleted
    jobs: int
    active_jobs: int
    failed_jobs: int  # error and dead
    storage_bytes: int
    last_generation_at: str | None


def client_generation_stats(client_id: str, timeout: float) -> ClientGenerationStats:
    p = generation()
    s = p.call(
        "generation",
        p.generation.GetClientStats,
        pb.GetClientStatsRequest(client_id=client_id),
        timeout=timeout,
    )
    return ClientGenerationStats(
        generations=s.generations,
        jobs=s.jobs,
        active_jobs=s.active_jobs,
        failed_jobs=s.failed_jobs,
        storage_bytes=s.storage_bytes,
        last_generation_at=iso(s.last_generation_at),
    )


class ClientAssetsQuery(Page):
    created_from: AwareDatetime | None = None
    created_to: AwareDatetime | None = None
    approval_status: Literal["pending", "approved", "rejected"] | None = None
    admin_generated: YesNo | None = None
    has_errors: YesNo | None = None
    include_deleted: bool = False
    include_total: bool = False


class AssetsQuery(ClientAssetsQuery):
    client_id: str = Field(
        "", max_length=80, pattern=CLIENT_ID, description="the generating client or the transfer's target"
    )


class ReviewIn(Model):
    approval_status: Literal["approved", "rejected", "pending"]
    note: str = Field("", max_length=1000)


class DeleteIn(Model):
    reason: str = Field("", max_length=500)


class TransferIn(Model):
    client_id: str = Field(max_length=80, pattern=r"^cli_[A-Za-z0-9]{6,64}$")


def asset_out(a: pb.Asset, names: dict[str, str]) -> AssetOut:
    return AssetOut(
        id=a.id,
        job_id=a.job_id,
        client_id=opt(a.client_id),
        client_name=names.get(a.client_id),
        is_admin_generated=a.is_admin_generated,
        transferred_to_client_id=opt(a.transferred_to_client_id),
        transferred_at=iso(a.transferred_at),
        gallery_client_id=opt(a.gallery_client_id),
        gallery_client_name=names.get(a.gallery_client_id),
        approval_status=a.approval_status,
        reviewed_by=opt(a.reviewed_by),
        reviewed_at=iso(a.reviewed_at),
        review_note=opt(a.review_note),
        content_type=a.content_type,
        size_bytes=a.size_bytes,
        width=a.width,
        height=a.height,
        url=opt(a.url),
        has_errors=a.has_errors,
        product_names=list(a.product_names),
        model=a.model,
        created_at=iso(a.created_at),
        deleted_at=iso(a.deleted_at),
    )


def assets_out(items: list[pb.Asset]) -> list[AssetOut]:
    names = names_of(*(a.client_id for a in items), *(a.gallery_client_id for a in items))
    return [asset_out(a, names) for a in items]


def _list(query: ClientAssetsQuery, client_id: str) -> AssetsOut:
    check_range(query.created_from, query.created_to)
    p = generation()
    response = p.call(
        "generation",
        p.generation.ListAssets,
        pb.ListAssetsRequest(
            filter=pb.AssetFilter(
                client_id=client_id,
                created_from=stamp(query.created_from),
                created_to=stamp(query.created_to),
                approval_status=query.approval_status or "",
                admin_generated=TRI_STATE[query.admin_generated],
                has_errors=TRI_STATE[query.has_errors],
                include_deleted=query.include_deleted,
            ),
            limit=query.limit,
            cursor=query.cursor,
            include_total=query.include_total,
        ),
    )
    return AssetsOut(
        items=assets_out(list(response.items)),
        next_cursor=response.next_cursor or None,
        total=response.total if response.has_total else None,
    )


@bp.get("/generations")
@spec.validate(query=AssetsQuery, resp=Responses(HTTP_200=AssetsOut, **READ_ERRORS))
def list_assets() -> AssetsOut:
    """Every generated image, newest first; filters: client (its own or transferred to it), creation
    dates, approval status, admin-generated yes/no, has errors yes/no, deleted ones too."""
    query = query_of(AssetsQuery)
    return _list(query, query.client_id)


@bp.get("/clients/<client_id>/generations")
@spec.validate(query=ClientAssetsQuery, resp=Responses(HTTP_200=AssetsOut, **READ_ERRORS))
def client_assets(client_id: str) -> AssetsOut:
    """The client detail's generations tab: the images in the client's gallery, newest first."""
    with container().engine.connect() as conn:
        directory.live_client(conn, client_id)
    return _list(query_of(ClientAssetsQuery), client_id)


@bp.get("/generations/<asset_id>")
@spec.validate(resp=Responses(HTTP_200=AssetDetailOut, **READ_ERRORS))
def get_asset(asset_id: str) -> AssetDetailOut:
    """The image with the prompt, settings and products it was made from, and its job."""
    require_id(asset_id, "ast", "asset_id")
    p = generation()
    detail = p.call("generation", p.generation.GetAsset, pb.GetAssetRequest(asset_id=asset_id))
    names = names_of(detail.asset.client_id, detail.asset.gallery_client_id)
    return AssetDetailOut(
        asset=asset_out(detail.asset, names),
        prompt=detail.prompt,
        settings=settings_out(detail.settings),
        products=[product_out(item) for item in detail.products],
        job=job_out(detail.job, names),
    )


@bp.patch("/generations/<asset_id>")
@spec.validate(json=ReviewIn, resp=Responses(HTTP_200=AssetOut, **WRITE_ERRORS))
def review(asset_id: str) -> AssetOut:
    """Approve or reject (for store sync), or back to pending, with an optional note; 409 when deleted."""
    require_id(asset_id, "ast", "asset_id")
    body = body_of(ReviewIn)
    p = generation()
    asset = p.call(
        "generation",
        p.generation.ReviewAsset,
        pb.ReviewAssetRequest(asset_id=asset_id, approval_status=body.approval_status, note=body.note),
    )
    return assets_out([asset])[0]


@bp.delete("/generations/<asset_id>")
@spec.validate(json=DeleteIn, resp=Responses(HTTP_200=AssetOut, **WRITE_ERRORS))
def delete(asset_id: str) -> AssetOut:
    """Soft delete, with an optional reason: the image leaves the galleries; the stored object is
    removed after the grace period. 409 when already deleted."""
    require_id(asset_id, "ast", "asset_id")
    body = body_of(DeleteIn)
    p = generation()
    asset = p.call("generation", p.generation.DeleteAsset, pb.DeleteAssetRequest(asset_id=asset_id, reason=body.reason))
    return assets_out([asset])[0]


@bp.post("/generations/<asset_id>/transfer")
@spec.validate(json=TransferIn, resp=Responses(HTTP_200=AssetOut, **WRITE_ERRORS))
def transfer(asset_id: str) -> AssetOut:
    """Move an admin-generated image into a client's gallery. The client must exist (404) and not be
    deleted (409); a client job's image, a deleted or an already transferred one is a 409."""
    require_id(asset_id, "ast", "asset_id")
    body = body_of(TransferIn)
    with container().engine.connect() as conn:
        deleted_at = conn.execute(sa.select(client.c.deleted_at).where(client.c.id == body.client_id)).first()
    if deleted_at is None:
        raise directory.client_not_found(body.client_id)
    if deleted_at[0] is not None:
        raise ApiError(409, "client_deleted", f"Client {body.client_id} is deleted.", {"client_id": body.client_id})
    p = generation()
    asset = p.call(
        "generation", p.generation.TransferAsset, pb.TransferAssetRequest(asset_id=asset_id, client_id=body.client_id)
    )
    return assets_out([asset])[0]
