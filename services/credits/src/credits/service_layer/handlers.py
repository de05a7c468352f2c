"""Use cases of the ledger: check who may act, describe the event, and apply the command once."""

from __future__ import annotations

from typing import Any

from credits.adapters.ledger import IdempotencyClaim, PostgresLedger
from credits.domain import commands, errors
from credits.domain.model import Balance, HoldStatus, Mutation, Transaction, TransactionType
from scenergy.common.context import current_request_id
from scenergy.common.events import make_envelope
from scenergy.common.identity import Actor, ActorType, Role
from scenergy.common.ids import new_id

SOURCE = "credits"
ADMIN_ROLES = frozenset({Role.ADMIN, Role.SUPER_ADMIN})

# Who may do what, beyond "a viewer never mutates". Admin-only operations are the manual ones.
ADMIN_ONLY = frozenset({"grant", "adjust"})
ADMIN_OR_SYSTEM = frozenset({"refund", "purchase", "open_account"})


def authorize(operation: str, actor: Actor | None) -> None:
    """Defence in depth: the gateway checks roles too, but the ledger never trusts the caller alone."""
    if actor is None:
        raise errors.PermissionDenied(f"{operation} needs an acting identity")
    if actor.type == ActorType.ADMIN:
        if actor.role not in ADMIN_ROLES:
            raise errors.PermissionDenied(f"role {actor.role or 'none'} may not {operation.replace('_', ' ')}")
        return
    if operation in ADMIN_ONLY:
        raise errors.PermissionDenied(f"{operation} needs an admin or super_admin")
    if operation in ADMIN_OR_SYSTEM and actor.type != ActorType.SYSTEM:
        raise errors.PermissionDenied(f"{operation} needs an admin or a platform service")


def _claim(cmd: commands.Command) -> IdempotencyClaim:
    return IdempotencyClaim(cmd.idempotency_key, cmd.operation, cmd.fingerprint())  # type: ignore[attr-defined]


class CreditsService:
    """The ledger's commands; every method is one atomic, idempotent write."""

    def __init__(self, ledger: PostgresLedger) -> None:
        self.ledger = ledger

    def _envelope(
        self, action: str, entity_type: str, entity_id: str, actor: Actor | None, **data: Any
    ) -> dict[str, Any]:
        return make_envelope(
            type=f"credits.{entity_type}.{action}",
            source=SOURCE,
            entity_type=entity_type,
            entity_id=entity_id,
            data=data,
            actor=actor,
        )

    def open_account(self, cmd: commands.OpenAccount, actor: Actor | None) -> tuple[Balance, bool]:
        authorize(cmd.operation, actor)
        if cmd.credit_limit and (actor is None or actor.type != ActorType.ADMIN):  # credit is an admin's call
            raise errors.PermissionDenied("a credit limit needs an admin or super_admin")
        envelope = self._envelope(
            "open", "account", cmd.client_id, actor, client_id=cmd.client_id, credit_limit=cmd.credit_limit
        )
        return self.ledger.open_account(cmd.client_id, cmd.credit_limit, envelope)

    def _post(
        self,
        cmd: commands.Command,
        actor: Actor | None,
        *,
        client_id: str,
        amount: int,
        type: TransactionType,
        enforce_floor: bool,
        reason: str | None = None,
        **fields: Any,
    ) -> Mutation:
        authorize(cmd.operation, actor)
        transaction_id = new_id("ctx")
        envelope = self._envelope(
            type.value if type != TransactionType.ADJUSTMENT else "adjust",
            "credit",
            client_id,
            actor,
            client_id=client_id,
            amount=amount,
            transaction_id=transaction_id,
            transaction_type=type.value,
            reason=reason,
            idempotency_key=cmd.idempotency_key,  # type: ignore[attr-defined]
        )
        return self.ledger.post(
            client_id=client_id,
            amount=amount,
            type=type,
            claim=_claim(cmd),
            envelope=envelope,
            enforce_floor=enforce_floor,
            transaction_id=transaction_id,
            description=reason or fields.pop("description", None),
            admin_user_id=actor.id if actor and actor.type == ActorType.ADMIN else None,
            request_id=current_request_id(),
            **fields,
        )

    def grant(self, cmd: commands.Grant, actor: Actor | None) -> Mutation:
        return self._post(
            cmd,
            actor,
            client_id=cmd.client_id,
            amount=cmd.amount,
            type=TransactionType.GRANT,
            enforce_floor=False,
            reason=cmd.reason,
        )

    def adjust(self, cmd: commands.Adjust, actor: Actor | None) -> Mutation:
        return self._post(
            cmd,
            actor,
            client_id=cmd.client_id,
            amount=cmd.amount,
            type=TransactionType.ADJUSTMENT,
            enforce_floor=cmd.amount < 0 and not cmd.allow_negative,
            reason=cmd.reason,
            expected_version=cmd.expected_version,
            metadata={"allow_negative": True} if cmd.allow_negative else None,
        )

    def purchase(self, cmd: commands.Purchase, actor: Actor | None) -> Mutation:
        return self._post(
            cmd,
            actor,
            client_id=cmd.client_id,
            amount=cmd.amount,
            type=TransactionType.PURCHASE,
            enforce_floor=False,
            description=cmd.description or None,
            payment_transaction_id=cmd.payment_reference,
            metadata=dict(cmd.metadata),
        )

    def debit(self, cmd: commands.Debit, actor: Actor | None) -> Mutation:
        return self._post(
            cmd,
            actor,
            client_id=cmd.client_id,
            amount=-cmd.amount,
            type=TransactionType.USAGE,
            enforce_floor=True,
            description=cmd.description or None,
            generated_asset_id=cmd.generated_asset_id or None,
        )

    def refund(self, cmd: commands.Refund, actor: Actor | None) -> Mutation:
        authorize(cmd.operation, actor)
        transaction_id = new_id("ctx")

        def envelope_for(original: Transaction) -> dict[str, Any]:
            return self._envelope(
                "refund",
                "credit",
                original.client_id,
                actor,
                client_id=original.client_id,
                amount=-cmd.amount,
                transaction_id=transaction_id,
                transaction_type="refund",
                refund_of_id=original.id,
                reason=cmd.reason,
                idempotency_key=cmd.idempotency_key,
            )

        return self.ledger.refund(
            original_id=cmd.transaction_id,
            amount=cmd.amount,
            claim=_claim(cmd),
            make_envelope=envelope_for,
            transaction_id=transaction_id,
            description=cmd.reason,
            payment_transaction_id=cmd.payment_reference or None,
            admin_user_id=actor.id if actor and actor.type == ActorType.ADMIN else None,
            request_id=current_request_id(),
        )

    def reserve_hold(self, cmd: commands.ReserveHold, actor: Actor | None) -> Mutation:
        authorize(cmd.operation, actor)
        hold_id = new_id("hld")
        envelope = self._envelope(
            "reserve",
            "hold",
            hold_id,
            actor,
            client_id=cmd.client_id,
            amount=cmd.amount,
            job_id=cmd.job_id or None,
            ttl_seconds=cmd.ttl_seconds,
        )
        return self.ledger.reserve(
            client_id=cmd.client_id,
            amount=cmd.amount,
            ttl_seconds=cmd.ttl_seconds,
            job_id=cmd.job_id,
            claim=_claim(cmd),
            envelope=envelope,
            hold_id=hold_id,
        )

    def capture_hold(self, cmd: commands.CaptureHold, actor: Actor | None) -> Mutation:
        authorize(cmd.operation, actor)
        envelope = self._envelope("capture", "hold", cmd.hold_id, actor, amount=cmd.amount)
        return self.ledger.settle(
            hold_id=cmd.hold_id,
            status=HoldStatus.CAPTURED,
            captured=cmd.amount,
            claim=_claim(cmd),
            envelope=envelope,
            description=cmd.description or "generation",
            generated_asset_id=cmd.generated_asset_id or None,
            request_id=current_request_id(),
        )

    def release_hold(self, cmd: commands.ReleaseHold, actor: Actor | None) -> Mutation:
        authorize(cmd.operation, actor)
        envelope = self._envelope("release", "hold", cmd.hold_id, actor)
        return self.ledger.settle(
            hold_id=cmd.hold_id,
            status=HoldStatus.RELEASED,
            captured=0,
            claim=_claim(cmd),
            envelope=envelope,
        )

    def expire_holds(self, *, limit: int = 100) -> int:
        """Void holds past their ttl; returns how many were expired."""
        actor = Actor.system("credits.hold-reaper")
        expired = 0
        for hold_id in self.ledger.expired_hold_ids(limit):
            envelope = self._envelope("expire", "hold", hold_id, actor)
            try:
                self.ledger.settle(
                    hold_id=hold_id, status=HoldStatus.EXPIRED, captured=0, claim=None, envelope=envelope
                )
                expired += 1
            except errors.HoldNotActive:
                continue  # captured or released meanwhile
        return expired
