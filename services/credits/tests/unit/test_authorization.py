import pytest

from credits.domain.errors import PermissionDenied
from credits.service_layer.handlers import authorize
from scenergy.common.identity import Actor, ActorType, Role

ADMIN = Actor(ActorType.ADMIN, "adm_abcdef12", Role.ADMIN)
SUPER = Actor(ActorType.ADMIN, "adm_abcdef13", Role.SUPER_ADMIN)
VIEWER = Actor(ActorType.ADMIN, "adm_abcdef14", Role.VIEWER)
SYSTEM = Actor.system("generation")
USER = Actor(ActorType.USER, "usr_abcdef15")

MUTATIONS = [
    "grant", "adjust", "refund", "purchase", "debit", "reserve_hold", "capture_hold", "release_hold", "open_account",
]  # fmt: skip


@pytest.mark.parametrize("operation", MUTATIONS)
def test_a_viewer_can_never_mutate(operation):
    with pytest.raises(PermissionDenied):
        authorize(operation, VIEWER)


@pytest.mark.parametrize("operation", MUTATIONS)
def test_a_mutation_needs_an_identity(operation):
    with pytest.raises(PermissionDenied):
        authorize(operation, None)


@pytest.mark.parametrize("operation", MUTATIONS)
def test_admins_may_do_every_mutation(operation):
    authorize(operation, ADMIN)
    authorize(operation, SUPER)


@pytest.mark.parametrize("operation", ["grant", "adjust"])
def test_grant_and_adjust_are_for_admins_only(operation):
    for actor in (SYSTEM, USER):
        with pytest.raises(PermissionDenied):
            authorize(operation, actor)


def test_platform_services_refund_purchase_and_open_accounts_but_users_do_not():
    authorize("refund", SYSTEM)
    authorize("purchase", SYSTEM)
    authorize("open_account", SYSTEM)
    for operation in ("refund", "purchase", "open_account"):
        with pytest.raises(PermissionDenied):
            authorize(operation, USER)


def test_generation_holds_work_for_services_and_users():
    for operation in ("reserve_hold", "capture_hold", "release_hold", "debit"):
        authorize(operation, SYSTEM)
        authorize(operation, USER)
