"""One line of human text per entry ("Granted 100 credits (Beta tester reward)") for the log screen."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Describer = Callable[[Mapping[str, Any]], str]


def _credits(amount: Any) -> str:
    if isinstance(amount, int) and not isinstance(amount, bool):
        return f"{abs(amount):,} credit{'s' if abs(amount) != 1 else ''}"
    return "credits"


def _because(data: Mapping[str, Any]) -> str:
    reason = data.get("reason")
    return f" ({reason})" if isinstance(reason, str) and reason.strip() else ""


def _adjusted(data: Mapping[str, Any]) -> str:
    amount = data.get("amount")
    direction = "Added" if isinstance(amount, int) and amount >= 0 else "Removed"
    return f"{direction} {_credits(amount)} by adjustment{_because(data)}"


# Keyed by action (`entity.verb`); anything else gets the generic sentence below.
DESCRIBERS: dict[str, Describer] = {
    "account.open": lambda d: "Opened the credit account",
    "credit.grant": lambda d: f"Granted {_credits(d.get('amount'))}{_because(d)}",
    "credit.adjust": _adjusted,
    "credit.purchase": lambda d: f"Purchased {_credits(d.get('amount'))}",
    "credit.refund": lambda d: f"Refunded {_credits(d.get('amount'))}{_because(d)}",
    "credit.usage": lambda d: f"Used {_credits(d.get('amount'))}",
    "hold.reserve": lambda d: f"Reserved {_credits(d.get('amount'))} for a generation",
    "hold.capture": lambda d: f"Charged {_credits(d.get('amount'))} from a hold",
    "hold.release": lambda d: "Released a credit hold",
    "hold.expire": lambda d: "A credit hold expired",
    "audit.export": lambda d: f"Exported the audit log as {str(d.get('format', '')).upper() or 'a file'}",
    "audit.purge": lambda d: f"Purged {d.get('deleted', 0):,} entries past retention",
    "audit.checkpoint": lambda d: "Signed a checkpoint of the audit chain",
    "auth.login": lambda d: "Signed in",
    "auth.logout": lambda d: "Signed out",
    "auth.forbidden": lambda d: f"Was refused {d.get('method', '')} {d.get('path', '')}".rstrip(),
    "admin.password_change": lambda d: "Changed their password",
    "admin.revoke_sessions": lambda d: f"Ended {d.get('sessions_revoked', 'the')} sessions of an admin",
    "user.remove": lambda d: "Removed a member from the client",
    "invitation.resend": lambda d: "Resent an invitation",
    "invitation.revoke": lambda d: "Revoked an invitation",
    "client.settings_update": lambda d: "Updated the client's settings",
    "settings.update": lambda d: "Updated the platform settings",
}

_PAST = {"create": "Created", "update": "Updated", "delete": "Deleted", "invite": "Invited"}


def describe(action: str, data: Mapping[str, Any], *, outcome: str, error_code: str | None) -> str:
    describer = DESCRIBERS.get(action)
    if describer is not None:
        try:
            text = describer(data)
        except (TypeError, ValueError):  # a producer's odd field types never block the entry
            text = _generic(action)
    elif isinstance(data.get("description"), str) and data["description"].strip():
        text = data["description"].strip()
    else:
        text = _generic(action)
    if outcome == "failure":
        text = f"Failed: {text[0].lower()}{text[1:]}" + (f" ({error_code})" if error_code else "")
    return text[:500]


def _generic(action: str) -> str:
    entity, _, verb = action.partition(".")
    past = _PAST.get(verb) or (verb.replace("_", " ").capitalize() + ("d" if verb.endswith("e") else "ed"))
    return f"{past} {entity.replace('_', ' ')}"
