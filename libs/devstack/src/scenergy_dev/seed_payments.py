"""Demo credit packs for the embedded run (payments' own data), written once."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from payments.adapters.tables import credit_pack
from scenergy.common.db import make_engine
from scenergy_dev.seed import SeedContext

PACKS = (
    {"id": "pack_starter_100", "name": "Starter: 100 credits", "credits": 100, "price_amount": 1900, "currency": "usd"},
    {"id": "pack_studio_500", "name": "Studio: 500 credits", "credits": 500, "price_amount": 7900, "currency": "usd"},
    {
        "id": "pack_agency_2000",
        "name": "Agency: 2,000 credits",
        "credits": 2000,
        "price_amount": 24900,
        "currency": "usd",
    },
)


def seed_payments(ctx: SeedContext) -> list[str]:
    engine = make_engine(ctx.database_urls["payments"], application_name="devstack-seed", pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(insert(credit_pack).values(list(PACKS)).on_conflict_do_nothing())
    finally:
        engine.dispose()
    url = ctx.http_urls["payments"]
    return [
        f"Stripe webhooks: {url}/webhooks/stripe (signing secret in var/secrets/stripe_webhook_secret); "
        f"{len(PACKS)} demo credit packs"
    ]
