"""Who may call which route: one table, deny by default.

Keys are (HTTP method, Flask rule). A route missing from the table answers 403 for everyone, and a
test walks the URL map so a new route can't ship without its line here.
"""

from __future__ import annotations

from scenergy.common.identity import Role

PUBLIC = frozenset[Role]()  # no session needed
READ = frozenset({Role.SUPER_ADMIN, Role.ADMIN, Role.VIEWER})  # every admin role reads everything
WRITE = frozenset({Role.SUPER_ADMIN, Role.ADMIN})  # CRUD on clients, users, credits, generations
SUPER = frozenset({Role.SUPER_ADMIN})  # admin management, payments, audit log retention

PERMISSIONS: dict[tuple[str, str], frozenset[Role]] = {
    # sign-in
    ("POST", "/api/admin/auth/login"): PUBLIC,
    ("POST", "/api/admin/auth/logout"): READ,
    ("GET", "/api/admin/auth/me"): READ,
    ("POST", "/api/admin/auth/password"): READ,
    ("GET", "/api/admin/openapi.json"): PUBLIC,
    # dashboard
    ("GET", "/api/admin/dashboard"): READ,
    # clients
    ("GET", "/api/admin/clients"): READ,
    ("POST", "/api/admin/clients"): WRITE,
    ("GET", "/api/admin/clients/<client_id>"): READ,
    ("PATCH", "/api/admin/clients/<client_id>"): WRITE,
    ("DELETE", "/api/admin/clients/<client_id>"): WRITE,
    ("GET", "/api/admin/clients/<client_id>/settings"): READ,
    ("PATCH", "/api/admin/clients/<client_id>/settings"): WRITE,
    ("GET", "/api/admin/clients/<client_id>/products"): READ,
    ("GET", "/api/admin/clients/<client_id>/sessions"): READ,
    # a client's members and invitations
    ("GET", "/api/admin/clients/<client_id>/users"): READ,
    ("POST", "/api/admin/clients/<client_id>/users"): WRITE,
    ("PATCH", "/api/admin/clients/<client_id>/users/<user_id>"): WRITE,
    ("DELETE", "/api/admin/clients/<client_id>/users/<user_id>"): WRITE,
    ("GET", "/api/admin/clients/<client_id>/invitations"): READ,
    ("POST", "/api/admin/clients/<client_id>/invitations/<invitation_id>/resend"): WRITE,
    ("DELETE", "/api/admin/clients/<client_id>/invitations/<invitation_id>"): WRITE,
    # users across clients
    ("GET", "/api/admin/users"): READ,
    ("GET", "/api/admin/users/<user_id>"): READ,
    ("PATCH", "/api/admin/users/<user_id>"): WRITE,
    ("DELETE", "/api/admin/users/<user_id>"): WRITE,
    # credits
    ("GET", "/api/admin/credits"): READ,
    ("GET", "/api/admin/credits/transactions"): READ,
    ("GET", "/api/admin/clients/<client_id>/credits"): READ,
    ("PATCH", "/api/admin/clients/<client_id>/credits"): WRITE,
    ("POST", "/api/admin/clients/<client_id>/credits/grant"): WRITE,
    ("GET", "/api/admin/clients/<client_id>/credits/transactions"): READ,
    # generated assets (the browser, review, delete, transfer)
    ("GET", "/api/admin/generations"): READ,
    ("GET", "/api/admin/generations/<asset_id>"): READ,
    ("PATCH", "/api/admin/generations/<asset_id>"): WRITE,
    ("DELETE", "/api/admin/generations/<asset_id>"): WRITE,
    ("POST", "/api/admin/generations/<asset_id>/transfer"): WRITE,
    ("GET", "/api/admin/clients/<client_id>/generations"): READ,
    # generation jobs, the admin generation, dead jobs and their bulk retries
    ("GET", "/api/admin/jobs"): READ,
    ("GET", "/api/admin/jobs/active"): READ,
    ("GET", "/api/admin/jobs/<job_id>"): READ,
    ("POST", "/api/admin/jobs/<job_id>/regenerate"): WRITE,
    ("POST", "/api/admin/jobs/<job_id>/cancel"): WRITE,
    ("POST", "/api/admin/generate"): WRITE,
    ("GET", "/api/admin/jobs/dead"): READ,
    ("POST", "/api/admin/jobs/dead/retry-preview"): WRITE,
    ("POST", "/api/admin/jobs/dead/retry"): WRITE,
    ("GET", "/api/admin/jobs/bulk-operations"): READ,
    ("GET", "/api/admin/jobs/bulk-operations/<operation_id>"): READ,
    # payments: everyone reads; refunds, retries, packs and reconciliation are super_admin's
    ("GET", "/api/admin/payments"): READ,
    ("GET", "/api/admin/payments/transactions"): READ,
    ("GET", "/api/admin/payments/transactions/<payment_id>"): READ,
    ("POST", "/api/admin/payments/transactions/<payment_id>/refund"): SUPER,
    ("GET", "/api/admin/payments/events"): READ,
    ("GET", "/api/admin/payments/events/<event_id>"): READ,
    ("POST", "/api/admin/payments/events/<event_id>/retry"): SUPER,
    ("GET", "/api/admin/payments/packs"): READ,
    ("POST", "/api/admin/payments/packs"): SUPER,
    ("PATCH", "/api/admin/payments/packs/<pack_id>"): SUPER,
    ("GET", "/api/admin/payments/customers"): READ,
    ("GET", "/api/admin/payments/reconciliation"): READ,
    ("POST", "/api/admin/payments/reconciliation"): SUPER,
    # audit
    ("GET", "/api/admin/audit"): READ,
    ("GET", "/api/admin/audit/export"): READ,
    ("GET", "/api/admin/audit/<entry_id>"): READ,
    # platform settings and admins
    ("GET", "/api/admin/settings"): READ,
    ("PATCH", "/api/admin/settings"): SUPER,
    ("GET", "/api/admin/settings/admins"): SUPER,
    ("POST", "/api/admin/settings/admins"): SUPER,
    ("PATCH", "/api/admin/settings/admins/<admin_id>"): SUPER,
    ("DELETE", "/api/admin/settings/admins/<admin_id>"): SUPER,
    ("POST", "/api/admin/settings/admins/<admin_id>/revoke-sessions"): SUPER,
}

# Served by libs/common for probes and scrapes, outside the admin API.
OPERATIONAL = frozenset({"/healthz", "/readyz", "/metrics"})


def allowed(method: str, rule: str) -> frozenset[Role] | None:
    """The roles allowed, PUBLIC for an open route, None when the route is not in the table."""
    return PERMISSIONS.get((method, rule))
