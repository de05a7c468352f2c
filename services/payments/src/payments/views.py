"""Read-side queries: the overview, payments, webhook events, packs, customers, the last reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from payments.adapters.tables import (
    credit_pack,
    credit_refund,
    payment,
    reconciliation_run,
    refund_record,
    stripe_customer,
    stripe_event,
)
from payments.domain import errors
from scenergy.common.ids import is_id
from scenergy.common.keyset import Page, TimeKeyset
from scenergy.common.pagination import clamp_limit

PAYMENT_STATUSES = ("paid", "partially_refunded", "refunded", "disputed")
EVENT_STATUSES = ("pending", "processed", "failed", "ignored")


def payment_status(row: Any) -> str:
    if row.amount_refunded >= row.amount_total and row.amount_total > 0:
        return "refunded"
    if row.amount_refunded > 0:
        return "partially_refunded"
    return "paid"


class PaymentsViews:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def overview(self) -> dict[str, Any]:
        p, e = payment.c, stripe_event.c
        now = datetime.now(UTC)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        since_7, since_30 = now - timedelta(days=7), now - timedelta(days=30)
        with self._engine.connect() as conn:
            revenue = conn.execute(
                sa.select(
                    p.currency,
                    sa.func.coalesce(sa.func.sum(p.amount_total).filter(p.paid_at >= day), 0),
                    sa.func.coalesce(sa.func.sum(p.amount_total).filter(p.paid_at >= since_7), 0),
                    sa.func.coalesce(sa.func.sum(p.amount_total), 0),
                    sa.func.count(),
                )
                .where(p.paid_at >= since_30)
                .group_by(p.currency)
            ).all()
            # From the payments' refunded amounts (what every kind of refund event raises), for the
            # payments whose refunded amount grew in the window.
            refunds = conn.execute(
                sa.select(p.currency, sa.func.sum(p.amount_refunded))
                .where(p.refunded_at >= since_30)
                .group_by(p.currency)
            ).all()
            failed = conn.execute(sa.select(sa.func.count()).where(e.status == "failed")).scalar_one()
            disputed = conn.execute(sa.select(sa.func.count()).where(p.disputed)).scalar_one()
            last_event = conn.execute(sa.select(sa.func.max(e.received_at))).scalar_one()
            last_run = conn.execute(
                sa.select(reconciliation_run).order_by(reconciliation_run.c.started_at.desc()).limit(1)
            ).first()
        open_drift = sum(1 for d in (last_run.drift if last_run else []) if not d.get("healed"))
        return {
            "revenue_today": [(c, int(t)) for c, t, *_ in revenue if t],
            "revenue_7d": [(c, int(w)) for c, _t, w, *_ in revenue if w],
            "revenue_30d": [(c, int(m)) for c, _t, _w, m, _n in revenue if m],
            "refunds_30d": [(c, int(a)) for c, a in refunds if a],
            "payments_30d": sum(n for *_, n in revenue),
            "failed_webhooks": failed,
            "disputed_payments": disputed,
            "last_event_at": last_event,
            "last_reconciled_at": last_run.finished_at if last_run else None,
            "open_drift": open_drift,
        }

    def payments(
        self, *, client_id: str, status: str, paid_from: datetime | None, paid_to: datetime | None,
        limit: int, cursor: str, include_total: bool,
    ) -> Page:  # fmt: skip
        keys = TimeKeyset(limit, cursor)
        p = payment.c
        where: list[Any] = []
        if client_id:
            if not is_id(client_id, "cli"):
                raise errors.InvalidArgument("client_id is malformed: expected a cli_ id")
            where.append(p.client_id == client_id)
        if status:
            if status not in PAYMENT_STATUSES:
                raise errors.InvalidArgument(f"status must be one of {', '.join(PAYMENT_STATUSES)}")
            where.append(
                {
                    "paid": p.amount_refunded == 0,
                    "partially_refunded": sa.and_(p.amount_refunded > 0, p.amount_refunded < p.amount_total),
                    "refunded": sa.and_(p.amount_refunded >= p.amount_total, p.amount_total > 0),
                    "disputed": p.disputed,
                }[status]
            )
        if paid_from:
            where.append(p.paid_at >= paid_from)
        if paid_to:
            where.append(p.paid_at < paid_to)
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(payment)
                .where(*where, *keys.after(p.paid_at, p.id))
                .order_by(p.paid_at.desc(), p.id.desc())
                .limit(keys.size + 1)
            ).all()
            total = (
                conn.execute(sa.select(sa.func.count()).select_from(payment).where(*where)).scalar_one()
                if include_total
                else None
            )
        return keys.page(rows, "paid_at", total)

    def payment(self, payment_id: str) -> tuple[Any, list[Any], list[Any], list[Any]]:
        if not is_id(payment_id, "pay"):
            raise errors.InvalidArgument("payment_id is malformed: expected a pay_ id")
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(payment).where(payment.c.id == payment_id)).first()
            if row is None:
                raise errors.NotFound("payment", payment_id)
            refunds = conn.execute(
                sa.select(refund_record)
                .where(refund_record.c.payment_id == payment_id)
                .order_by(refund_record.c.created_at)
            ).all()
            events = conn.execute(
                sa.select(stripe_event)
                .where(stripe_event.c.payment_id == payment_id)
                .order_by(stripe_event.c.received_at)
            ).all()
            levels = conn.execute(
                sa.select(credit_refund)
                .where(credit_refund.c.payment_id == payment_id)
                .order_by(credit_refund.c.credits_level)
            ).all()
        return row, list(refunds), list(events), list(levels)

    def events(self, *, type_: str, status: str, limit: int, cursor: str, include_total: bool) -> Page:
        keys = TimeKeyset(limit, cursor)
        e = stripe_event.c
        where: list[Any] = []
        if type_:
            if len(type_) > 100:
                raise errors.InvalidArgument("type is too long")
            where.append(e.type == type_)
        if status:
            if status not in EVENT_STATUSES:
                raise errors.InvalidArgument(f"status must be one of {', '.join(EVENT_STATUSES)}")
            where.append(e.status == status)
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(stripe_event)
                .where(*where, *keys.after(e.received_at, e.id))
                .order_by(e.received_at.desc(), e.id.desc())
                .limit(keys.size + 1)
            ).all()
            total = (
                conn.execute(sa.select(sa.func.count()).select_from(stripe_event).where(*where)).scalar_one()
                if include_total
                else None
            )
        return keys.page(rows, "received_at", total)

    def event(self, event_id: str) -> Any:
        if not event_id or len(event_id) > 255:
            raise errors.InvalidArgument("event_id is required")
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(stripe_event).where(stripe_event.c.id == event_id)).first()
        if row is None:
            raise errors.NotFound("webhook event", event_id)
        return row

    def packs(self, include_inactive: bool) -> list[Any]:
        with self._engine.connect() as conn:
            query = sa.select(credit_pack).order_by(credit_pack.c.credits, credit_pack.c.id)
            if not include_inactive:
                query = query.where(credit_pack.c.active)
            return list(conn.execute(query).all())

    def pack(self, pack_id: str) -> Any:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(credit_pack).where(credit_pack.c.id == pack_id)).first()
        if row is None:
            raise errors.NotFound("credit pack", pack_id)
        return row

    def customers(self, search: str, *, limit: int, cursor: str) -> tuple[list[Any], str]:
        size = clamp_limit(limit)  # customers page by their Stripe id, not by time
        c, p = stripe_customer.c, payment.c
        where: list[Any] = []
        search = (search or "").strip()
        if len(search) > 200:
            raise errors.InvalidArgument("search is too long")
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(
                sa.or_(c.stripe_customer_id == search, c.client_id == search, c.email.ilike(escaped + "%", escape="\\"))
            )
        if cursor:
            where.append(c.stripe_customer_id > cursor[:255])
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    stripe_customer,
                    sa.func.count(p.id).label("payments"),
                )
                .select_from(stripe_customer.outerjoin(payment, p.customer_id == c.stripe_customer_id))
                .where(*where)
                .group_by(*stripe_customer.c)
                .order_by(c.stripe_customer_id)
                .limit(size + 1)
            ).all()
            totals: dict[str, list[tuple[str, int]]] = {}
            ids = [r.stripe_customer_id for r in rows[:size]]
            if ids:
                for customer_id, currency, amount in conn.execute(
                    sa.select(p.customer_id, p.currency, sa.func.sum(p.amount_total))
                    .where(p.customer_id.in_(ids))
                    .group_by(p.customer_id, p.currency)
                ).all():
                    totals.setdefault(customer_id, []).append((currency, int(amount)))
        more = len(rows) > size
        items = [(row, totals.get(row.stripe_customer_id, [])) for row in rows[:size]]
        return items, (rows[size - 1].stripe_customer_id if more else "")

    def last_reconciliation(self) -> Any:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(reconciliation_run).order_by(reconciliation_run.c.started_at.desc()).limit(1)
            ).first()
        if row is None:
            raise errors.NotFound("reconciliation run", "yet")
        return row

    def reconciliation(self, run_id: str) -> Any:
        with self._engine.connect() as conn:
            return conn.execute(sa.select(reconciliation_run).where(reconciliation_run.c.id == run_id)).one()
