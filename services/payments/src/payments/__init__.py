"""Payments: Stripe webhooks, credit purchases and refunds, reconciliation."""
