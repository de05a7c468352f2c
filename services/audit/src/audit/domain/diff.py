"""The before/after diff of an entry's states, as the entry detail screen shows it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from typing import Any, Final, Literal

REDACTED: Final = "[REDACTED]"  # what the recorder stores in place of a sensitive value

ChangeKind = Literal["added", "removed", "changed"]
Path = tuple[str, ...]  # unescaped JSON pointer tokens


@dataclass(frozen=True)
class Change:
    path: str  # RFC 6901 pointer relative to the state root, "" for the root itself
    kind: ChangeKind
    before: Any  # None when added or redacted
    after: Any  # None when removed or redacted
    redacted: bool = False


class _Missing:
    """No value at a path (distinct from a JSON null)."""


_MISSING: Final = _Missing()


def diff_states(
    previous: dict[str, Any] | None, new: dict[str, Any] | None, redacted_fields: Iterable[str]
) -> list[Change]:
    """Changes from `previous` to `new`, parents before children, keys sorted, list items by index."""
    hidden = _redacted_paths(redacted_fields)
    before: Any = _MISSING if previous is None else previous
    after: Any = _MISSING if new is None else new
    if () not in hidden:
        # A missing state diffs as an empty one: a create lists each key as added, not one root change.
        before = {} if before is _MISSING else before
        after = {} if after is _MISSING else after
    return list(_changes(hidden, (), before, after))


def change_to_dict(change: Change) -> dict[str, Any]:
    """The API shape: `before` only when something was there, `after` likewise, neither when redacted."""
    shown: dict[str, Any] = {"path": change.path, "kind": change.kind, "redacted": change.redacted}
    if not change.redacted:
        if change.kind != "added":
            shown["before"] = change.before
        if change.kind != "removed":
            shown["after"] = change.after
    return shown


def _redacted_paths(redacted_fields: Iterable[str]) -> frozenset[Path]:
    """The entry's pointers under `previous_state` or `new_state`, relative to the state; the others dropped.

    One set for both sides: a path redacted on either side is hidden on both.
    """
    hidden: set[Path] = set()
    for field in redacted_fields:
        if not field.startswith("/"):
            continue
        root, *rest = (token.replace("~1", "/").replace("~0", "~") for token in field[1:].split("/"))
        if root in ("previous_state", "new_state"):
            hidden.add(tuple(rest))
    return frozenset(hidden)


def _changes(hidden: Set[Path], path: Path, before: Any, after: Any) -> Iterator[Change]:
    if before is _MISSING and after is _MISSING:
        return
    if path in hidden or _is_marker(before) or _is_marker(after):
        # Neither side is shown, nor anything beneath: the kind alone says the key came, went or stayed.
        # The marker check is belt and braces, should the pointer list have missed a value.
        kind: ChangeKind = "added" if before is _MISSING else "removed" if after is _MISSING else "changed"
        yield Change(_pointer(path), kind, None, None, redacted=True)
    elif before is _MISSING:
        yield from _added(hidden, path, after)
    elif after is _MISSING:
        yield from _removed(hidden, path, before)
    elif isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            yield from _changes(hidden, (*path, key), before.get(key, _MISSING), after.get(key, _MISSING))
    elif isinstance(before, list) and isinstance(after, list):
        for index in range(max(len(before), len(after))):
            yield from _changes(
                hidden,
                (*path, str(index)),
                before[index] if index < len(before) else _MISSING,
                after[index] if index < len(after) else _MISSING,
            )
    elif type(before) is type(after) and before == after:
        return
    elif _holds_redacted(hidden, path, before) or _holds_redacted(hidden, path, after):
        # One `changed` would show a value with a redacted hole in it: old side removed, new side
        # added instead, each broken down to its redacted leaves.
        yield from _removed(hidden, path, before)
        yield from _added(hidden, path, after)
    else:
        yield Change(_pointer(path), "changed", before, after)


def _added(hidden: Set[Path], path: Path, value: Any) -> Iterator[Change]:
    """A new value: whole, unless something beneath it is redacted."""
    if not _holds_redacted(hidden, path, value):
        yield Change(_pointer(path), "added", None, value)
        return
    for token, child in _children(value):
        yield from _changes(hidden, (*path, token), _MISSING, child)


def _removed(hidden: Set[Path], path: Path, value: Any) -> Iterator[Change]:
    """A value gone: whole, unless something beneath it is redacted."""
    if not _holds_redacted(hidden, path, value):
        yield Change(_pointer(path), "removed", value, None)
        return
    for token, child in _children(value):
        yield from _changes(hidden, (*path, token), child, _MISSING)


def _holds_redacted(hidden: Set[Path], path: Path, value: Any) -> bool:
    """Whether a redacted value sits strictly beneath `path` inside `value`."""
    for token, child in _children(value):
        child_path = (*path, token)
        if child_path in hidden or _is_marker(child) or _holds_redacted(hidden, child_path, child):
            return True
    return False


def _children(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield key, value[key]
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield str(index), item


def _pointer(path: Path) -> str:
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in path)


def _is_marker(value: Any) -> bool:
    return isinstance(value, str) and value == REDACTED
