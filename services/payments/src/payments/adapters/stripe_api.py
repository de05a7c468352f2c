"""Stripe's API, as payments uses it: refunds (created with our idempotency key) and listings to reconcile.

The real stripe library; tests point it at a local server that speaks Stripe's REST format.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import stripe

from payments.domain import errors


class StripeApi(Protocol):
    def create_refund(
        self, *, payment_intent: str, amount: int, reason: str, idempotency_key: str, metadata: dict[str, str]
    ) -> dict[str, Any]: ...

    def checkout_sessions(self, *, created_from: int) -> Iterator[dict[str, Any]]: ...

    def refunds(self, *, created_from: int) -> Iterator[dict[str, Any]]: ...


class StripeRefused(errors.PaymentsError):
    """Stripe refused the request (e.g. more than what remains to refund)."""


class LibraryStripeApi:
    def __init__(
        self, api_key: str, *, api_base: str | None = None, max_retries: int = 2, timeout_s: float = 20.0
    ) -> None:
        self._http = stripe.RequestsClient(timeout=timeout_s)
        options: dict[str, Any] = {"max_network_retries": max_retries, "http_client": self._http}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self._client = stripe.StripeClient(api_key, **options)

    def create_refund(
        self, *, payment_intent: str, amount: int, reason: str, idempotency_key: str, metadata: dict[str, str]
    ) -> dict[str, Any]:
        try:
            refund = self._client.v1.refunds.create(
                params={"payment_intent": payment_intent, "amount": amount, "reason": reason, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as exc:
            raise StripeRefused(f"Stripe refused the refund: {exc.user_message or exc}") from None
        except stripe.StripeError as exc:
            raise errors.StripeUnavailable(f"Stripe did not answer: {type(exc).__name__}") from None
        return refund.to_dict()

    def _listing(self, service: Any, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        try:
            for item in service.list(params=params).auto_paging_iter():
                yield item.to_dict()
        except stripe.StripeError as exc:
            raise errors.StripeUnavailable(f"Stripe did not answer: {type(exc).__name__}") from None

    def checkout_sessions(self, *, created_from: int) -> Iterator[dict[str, Any]]:
        return self._listing(self._client.v1.checkout.sessions, {"created": {"gte": created_from}, "limit": 100})

    def refunds(self, *, created_from: int) -> Iterator[dict[str, Any]]:
        return self._listing(self._client.v1.refunds, {"created": {"gte": created_from}, "limit": 100})

    def close(self) -> None:
        self._http.close()
