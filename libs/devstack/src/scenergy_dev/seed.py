"""Demo data, created through each service's own gRPC API so it passes the same rules as real traffic.

Every write carries a fixed idempotency key, so running the platform again replays the same calls and
the ledger keeps exactly one copy of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from scenergy.common.grpc_client import DEFAULT_DEADLINE_S, CallMetadata
from scenergy.common.identity import Actor, ActorType, Role, ServiceCredential
from scenergy.credits.v1 import credits_pb2 as credits_pb
from scenergy.credits.v1 import credits_pb2_grpc as credits_grpc

# The caller name the demo writes are signed with, and the admin they are attributed to.
CALLER = "devstack"
DEMO_ADMIN = Actor(ActorType.ADMIN, "adm_devstackseed", Role.SUPER_ADMIN, "127.0.0.1", "scenergy-dev seed")


@dataclass(frozen=True)
class SeedContext:
    credential_key: str
    grpc_addresses: Mapping[str, str]  # service name -> host:port
    http_urls: Mapping[str, str]  # service name -> base URL of its first HTTP listener
    database_urls: Mapping[str, str]  # service name -> its database
    var_dir: Path
    env: Mapping[str, str]

    def channel(self, service: str) -> grpc.Channel:
        # Local addresses only: a developer's HTTP(S)_PROXY must not capture them.
        return grpc.insecure_channel(self.grpc_addresses[service], options=[("grpc.enable_http_proxy", 0)])

    def metadata(self) -> list[tuple[str, str]]:
        return CallMetadata(ServiceCredential(self.credential_key), CALLER)(DEMO_ADMIN)


@dataclass(frozen=True)
class DemoAccount:
    client_id: str
    name: str  # the client's display name, for the summary
    grants: tuple[tuple[int, str], ...]  # (amount, reason)
    debits: tuple[tuple[int, str], ...] = ()  # (amount, description): generations already paid for
    credit_limit: int = 0

    @property
    def balance(self) -> int:
        return sum(amount for amount, _ in self.grants) - sum(amount for amount, _ in self.debits)


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        "cli_demoacme001",
        "Acme Furniture Co.",
        grants=((1000, "Welcome credits"), (250, "Spring campaign bonus")),
        debits=((12, "Living room scene"), (8, "Bedroom scene"), (10, "Patio scene")),
    ),
    DemoAccount(
        "cli_demomodern01",
        "Modern Living",
        grants=((500, "Welcome credits"),),
        debits=((20, "Showroom scene"), (15, "Loft scene")),
        credit_limit=100,
    ),
    DemoAccount(
        "cli_demooffice01",
        "Office Plus",
        grants=((300, "Welcome credits"), (100, "Goodwill after an outage")),
        debits=((40, "Open-plan office scene"),),
    ),
    DemoAccount(
        "cli_democozy001", "Cozy Home", grants=((200, "Welcome credits"),), debits=((5, "Reading nook scene"),)
    ),
    DemoAccount("cli_demonordic01", "Nordic Nest", grants=((50, "Trial credits"),)),
)


def _key(account: DemoAccount, kind: str, index: int) -> str:
    return f"devstack-seed:{account.client_id}:{kind}:{index}"


def seed_credits(ctx: SeedContext) -> list[str]:
    """Open the demo accounts, grant their credits and record a few paid generations."""
    with ctx.channel("credits") as channel:
        stub = credits_grpc.CreditsServiceStub(channel)

        def call(method: grpc.UnaryUnaryMultiCallable, request: object) -> Any:
            return method(request, metadata=ctx.metadata(), timeout=DEFAULT_DEADLINE_S)

        lines = []
        for account in DEMO_ACCOUNTS:
            call(
                stub.OpenAccount,
                credits_pb.OpenAccountRequest(client_id=account.client_id, credit_limit=account.credit_limit),
            )
            for i, (amount, reason) in enumerate(account.grants):
                call(
                    stub.Grant,
                    credits_pb.GrantRequest(
                        client_id=account.client_id,
                        amount=amount,
                        reason=reason,
                        idempotency_key=_key(account, "grant", i),
                    ),
                )
            for i, (amount, description) in enumerate(account.debits):
                call(
                    stub.Debit,
                    credits_pb.DebitRequest(
                        client_id=account.client_id,
                        amount=amount,
                        description=description,
                        idempotency_key=_key(account, "debit", i),
                    ),
                )
            balance = call(stub.GetBalance, credits_pb.GetBalanceRequest(client_id=account.client_id))
            lines.append(f"credit account {account.client_id} ({account.name}): balance {balance.balance:,}")
        return lines
