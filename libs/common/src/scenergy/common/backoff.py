"""Exponential backoff with equal jitter, for work retried later (jobs, webhook events). Pure Python."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """Attempt n waits between half and all of min(cap, base·2ⁿ⁻¹): spread out, but never about zero;
    and never sooner than a Retry-After the other side asked for (bounded by four caps)."""

    base_s: float = 2.0
    cap_s: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** max(attempt - 1, 0))
        delay = self.rng.uniform(ceiling / 2, ceiling)
        if retry_after_s is not None and retry_after_s > 0:
            delay = max(delay, min(retry_after_s, self.cap_s * 4))
        return delay
