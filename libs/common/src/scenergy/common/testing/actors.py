"""Identities tests act as, the same in every service's tests."""

from scenergy.common.identity import Actor, ActorType, Role

ADMIN = Actor(ActorType.ADMIN, "adm_01testadmin0000000000000000", Role.ADMIN, "203.0.113.7", "pytest")
SUPER_ADMIN = Actor(ActorType.ADMIN, "adm_01testsuper0000000000000000", Role.SUPER_ADMIN, "203.0.113.8", "pytest")
VIEWER = Actor(ActorType.ADMIN, "adm_01testviewer000000000000000", Role.VIEWER, "203.0.113.9", "pytest")
GENERATION = Actor.system("generation")
PAYMENTS = Actor.system("payments")
