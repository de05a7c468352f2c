"""Money arithmetic of purchases and refunds. No framework imports."""

from __future__ import annotations


def credits_refunded_for(credits: int, amount_total: int, amount_refunded: int) -> int:
    """Credits a cumulative refund takes back: in proportion to the money, rounded down, never more than bought.

    Rounding down per cumulative level (not per refund) means several partial refunds add up to
    exactly what one refund of their sum would, and a full refund takes back every credit.
    """
    if amount_total <= 0:
        return credits if amount_refunded > 0 else 0
    refunded = min(max(amount_refunded, 0), amount_total)
    if refunded == amount_total:
        return credits
    return min(credits, credits * refunded // amount_total)
