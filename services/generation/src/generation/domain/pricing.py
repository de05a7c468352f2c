"""Versioned prices of the image models, to estimate what a job cost.

A job stores the version it was priced with, so old estimates stay explainable after prices change.
Add a new version rather than editing one that jobs already refer to.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from generation.domain.ports import Usage


@dataclass(frozen=True)
class ModelPrice:
    input_per_million: Decimal  # USD per million prompt tokens
    output_per_million: Decimal  # USD per million candidate (output) tokens, images included
    per_image: Decimal = Decimal("0")  # a flat fee per image, where a model charges one


@dataclass(frozen=True)
class PriceTable:
    version: str
    models: dict[str, ModelPrice]

    def estimate(self, model: str, usage: Usage) -> Decimal:
        price = self.models.get(model)
        if price is None:
            return Decimal("0")
        cost = (
            Decimal(usage.prompt_tokens) * price.input_per_million / Decimal(1_000_000)
            + Decimal(usage.candidate_tokens) * price.output_per_million / Decimal(1_000_000)
            + price.per_image
        )
        return cost.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)

    def typical(self, model: str) -> Decimal:
        """What one image usually costs, for previews (about 1,300 output tokens per image)."""
        return self.estimate(model, Usage(prompt_tokens=300, candidate_tokens=1290, total_tokens=1590))


PRICE_TABLES: dict[str, PriceTable] = {
    "2026-11-01": PriceTable(
        version="2026-11-01",
        models={
            "gemini-2.5-flash-image": ModelPrice(Decimal("0.30"), Decimal("30.00")),
            "gemini-3-pro-image-preview": ModelPrice(Decimal("2.00"), Decimal("120.00")),
            "gemini-2.0-flash-exp": ModelPrice(Decimal("0.10"), Decimal("30.00")),
        },
    ),
}
CURRENT_PRICES = PRICE_TABLES["2026-11-01"]
MODELS = tuple(CURRENT_PRICES.models)
DEFAULT_MODEL = "gemini-2.5-flash-image"
