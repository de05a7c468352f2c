"""Demo generations for the embedded run: a few jobs per demo client and two in the admin space.

They go through the real path (the job outbox, the queue, the runner, the object store); without a
Gemini key the offline provider renders placeholders that say so on the image. The demo admin
submits them, so they charge nobody and the demo credit balances stay as seeded. Submissions carry
idempotency keys, so a second run adds nothing.
"""

from __future__ import annotations

import sqlalchemy as sa

import admin_api.adapters.tables as t
from scenergy.common.db import make_engine
from scenergy.common.grpc_client import CallMetadata
from scenergy.common.identity import ServiceCredential
from scenergy.generation.v1 import generation_pb2 as pb
from scenergy.generation.v1 import generation_pb2_grpc as pb_grpc
from scenergy_dev.seed import CALLER, DEMO_ACCOUNTS, DEMO_ADMIN, SeedContext

SCENES = (
    ("living_room", "scandinavian", "natural", "16:9"),
    ("bedroom", "japandi", "warm", "4:3"),
    ("office", "industrial", "bright", "1:1"),
)


def _products(ctx: SeedContext) -> dict[str, list[pb.ProductRef]]:
    engine = make_engine(ctx.database_urls["admin-api"], application_name="devstack-seed", pool_size=1)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.product.c.client_id, t.product.c.id, t.product.c.name).order_by(t.product.c.id)
            ).all()
    finally:
        engine.dispose()
    by_client: dict[str, list[pb.ProductRef]] = {}
    for row in rows:
        by_client.setdefault(row.client_id, []).append(pb.ProductRef(id=row.id, name=row.name))
    return by_client


def seed_generation(ctx: SeedContext) -> list[str]:
    products = _products(ctx)
    metadata = CallMetadata(ServiceCredential(ctx.credential_key), CALLER)
    submitted = 0
    with ctx.channel("generation") as channel:
        stub = pb_grpc.GenerationServiceStub(channel)
        for n, account in enumerate(DEMO_ACCOUNTS):
            for i, (room, style, light, ratio) in enumerate(SCENES[: 2 if n % 2 else 3]):
                request = pb.SubmitJobRequest(
                    client_id=account.client_id,
                    products=products.get(account.client_id, [])[i : i + 2],
                    settings=pb.JobSettings(room_type=room, style=style, lighting=light, aspect_ratio=ratio),
                    idempotency_key=f"demo-{account.client_id}-{i}",
                )
                if request.products:
                    stub.SubmitJob(request, metadata=metadata(DEMO_ADMIN), timeout=10)
                    submitted += 1
        first = next(iter(products.values()), [])
        for i, (room, style, light, ratio) in enumerate(SCENES[:2]):
            request = pb.SubmitJobRequest(
                admin_space=True,
                products=first[i : i + 1],
                settings=pb.JobSettings(room_type=room, style=style, lighting=light, aspect_ratio=ratio),
                instructions="Admin-space test scene",
                idempotency_key=f"demo-admin-{i}",
            )
            if request.products:
                stub.SubmitJob(request, metadata=metadata(DEMO_ADMIN), timeout=10)
                submitted += 1
    provider = "Gemini" if ctx.env.get("GEMINI_API_KEY") else "the offline provider (placeholders labelled as such)"
    return [f"demo generations: {submitted} jobs submitted, rendered by {provider}"]
