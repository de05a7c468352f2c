import random
from datetime import UTC, datetime

import pytest

from audit.domain.diff import REDACTED, Change, change_to_dict, diff_states
from audit.domain.model import AuditEntry

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_entry(**overrides):
    fields = {
        "seq": 1,
        "id": "evt_0001",
        "occurred_at": T0,
        "recorded_at": T0,
        "source": "admin-api",
        "event_type": "admin-api.client.update",
        "action": "client.update",
        "entity_type": "client",
        "entity_id": "cli_0001",
        "actor_type": "admin",
        "actor_id": "adm_0001",
        "actor_role": "admin",
        "impersonator_id": None,
        "ip_address": "203.0.113.7",
        "user_agent": "pytest",
        "request_id": "req_0001",
        "outcome": "success",
        "error_code": None,
        "error_message": None,
        "description": "Client updated",
        "previous_state": None,
        "new_state": None,
    }
    return AuditEntry(**{**fields, **overrides})


def diff_entry(entry):
    return diff_states(entry.previous_state, entry.new_state, entry.redacted_fields)


def test_a_create_lists_every_key_as_added():
    entry = make_entry(new_state={"name": "Acme", "plan": {"tier": "pro"}, "tags": ["a"]})

    assert diff_entry(entry) == [
        Change("/name", "added", None, "Acme"),
        Change("/plan", "added", None, {"tier": "pro"}),
        Change("/tags", "added", None, ["a"]),
    ]


def test_a_delete_lists_every_key_as_removed():
    entry = make_entry(previous_state={"name": "Acme", "active": True})

    assert diff_entry(entry) == [
        Change("/active", "removed", True, None),
        Change("/name", "removed", "Acme", None),
    ]


def test_no_state_on_either_side_is_no_change():
    assert diff_states(None, None, []) == []
    assert diff_states({}, None, []) == []


def test_a_nested_change_is_reported_at_its_leaf():
    before = {"plan": {"tier": "pro", "limits": {"seats": 5, "storage": 10}}, "name": "Acme"}
    after = {"plan": {"tier": "pro", "limits": {"seats": 8, "storage": 10, "api": True}}, "name": "Acme"}

    assert diff_states(before, after, []) == [
        Change("/plan/limits/api", "added", None, True),
        Change("/plan/limits/seats", "changed", 5, 8),
    ]


def test_a_list_that_grows_adds_its_extra_items():
    assert diff_states({"tags": ["a", "b"]}, {"tags": ["a", "x", "c", {"d": 1}]}, []) == [
        Change("/tags/1", "changed", "b", "x"),
        Change("/tags/2", "added", None, "c"),
        Change("/tags/3", "added", None, {"d": 1}),
    ]


def test_a_list_that_shrinks_removes_its_extra_items():
    assert diff_states({"tags": ["a", "b", "c"]}, {"tags": ["a"]}, []) == [
        Change("/tags/1", "removed", "b", None),
        Change("/tags/2", "removed", "c", None),
    ]


def test_list_items_follow_index_order_not_string_order():
    paths = [change.path for change in diff_states({"n": []}, {"n": list(range(12))}, [])]

    assert paths == [f"/n/{index}" for index in range(12)]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"a": 1}, [1]),
        ([1], {"a": 1}),
        (1, "1"),
        (1, 1.0),
        (1, True),
        (0, False),
        (None, 0),
        (None, {}),
        ("", []),
    ],
)
def test_a_type_change_is_one_change_at_its_path(before, after):
    assert diff_states({"v": before}, {"v": after}, []) == [Change("/v", "changed", before, after)]


def test_a_null_value_is_not_a_missing_key():
    assert diff_states({"v": None}, {}, []) == [Change("/v", "removed", None, None)]
    assert diff_states({}, {"v": None}, []) == [Change("/v", "added", None, None)]


def test_unchanged_states_give_no_change():
    state = {"a": 1, "b": [1, 2.5, {"c": None}], "d": {"e": True, "f": "x"}}

    assert diff_states(state, {**state, "b": [1, 2.5, {"c": None}]}, []) == []


def test_pointers_escape_tilde_and_slash():
    changes = diff_states({}, {"a/b": {"m~n": 1}, "~1": 2}, [])

    assert [change.path for change in changes] == ["/a~1b", "/~01"]
    assert diff_states({"a/b": {"m~n": 1}}, {"a/b": {"m~n": 2}}, []) == [Change("/a~1b/m~0n", "changed", 1, 2)]


def test_a_redacted_pointer_is_unescaped_before_matching():
    changes = diff_states({"a/b": {"m~n": REDACTED}}, {"a/b": {"m~n": REDACTED}}, ["/new_state/a~1b/m~0n"])

    assert changes == [Change("/a~1b/m~0n", "changed", None, None, redacted=True)]


def test_a_value_redacted_on_both_sides_is_one_hidden_change():
    entry = make_entry(
        previous_state={"name": "Acme", "api_key": REDACTED},
        new_state={"name": "Acme Ltd", "api_key": REDACTED},
        redacted_fields=("/previous_state/api_key", "/new_state/api_key"),
    )

    assert diff_entry(entry) == [
        Change("/api_key", "changed", None, None, redacted=True),
        Change("/name", "changed", "Acme", "Acme Ltd"),
    ]


def test_a_value_redacted_on_one_side_hides_both_sides():
    # The previous value was stored in clear (say, recorded before the field was classified):
    # the diff still shows neither side.
    entry = make_entry(
        previous_state={"token": "tok_old"},
        new_state={"token": REDACTED},
        redacted_fields=("/new_state/token",),
    )

    assert diff_entry(entry) == [Change("/token", "changed", None, None, redacted=True)]


def test_a_redacted_key_that_appears_or_goes_is_added_or_removed():
    assert diff_states({}, {"api_key": REDACTED}, ["/new_state/api_key"]) == [
        Change("/api_key", "added", None, None, redacted=True)
    ]
    assert diff_states({"api_key": REDACTED}, {}, ["/previous_state/api_key"]) == [
        Change("/api_key", "removed", None, None, redacted=True)
    ]


def test_a_redacted_pointer_to_a_key_on_neither_side_gives_no_change():
    assert diff_states({"a": 1}, {"a": 1}, ["/new_state/api_key"]) == []


def test_nothing_is_reported_beneath_a_redacted_path():
    before = {"credentials": {"token": "t1", "scopes": ["read"]}}
    after = {"credentials": {"token": "t2", "scopes": ["read", "write"], "expires": 3600}}

    changes = diff_states(before, after, ["/previous_state/credentials", "/new_state/credentials"])

    assert changes == [Change("/credentials", "changed", None, None, redacted=True)]


def test_a_created_object_holding_a_redacted_value_is_broken_down_to_it():
    entry = make_entry(
        new_state={"name": "Acme", "credentials": {"token": REDACTED, "scopes": ["read"]}},
        redacted_fields=("/new_state/credentials/token",),
    )

    assert diff_entry(entry) == [
        Change("/credentials/scopes", "added", None, ["read"]),
        Change("/credentials/token", "added", None, None, redacted=True),
        Change("/name", "added", None, "Acme"),
    ]


def test_a_deleted_list_holding_a_redacted_value_is_broken_down_to_it():
    before = {"keys": [{"id": "k1", "secret": REDACTED}, {"id": "k2"}]}

    assert diff_states(before, None, ["/previous_state/keys/0/secret"]) == [
        Change("/keys/0/id", "removed", "k1", None),
        Change("/keys/0/secret", "removed", None, None, redacted=True),
        Change("/keys/1", "removed", {"id": "k2"}, None),
    ]


def test_a_type_change_into_a_value_holding_a_redacted_one_never_shows_it():
    changes = diff_states({"auth": "none"}, {"auth": {"token": REDACTED}}, ["/new_state/auth/token"])

    assert changes == [
        Change("/auth", "removed", "none", None),
        Change("/auth/token", "added", None, None, redacted=True),
    ]


def test_the_marker_is_hidden_even_when_the_pointer_list_misses_it():
    assert diff_states({"pin": "1234"}, {"pin": REDACTED}, []) == [Change("/pin", "changed", None, None, redacted=True)]


def test_pointers_to_other_parts_of_the_entry_are_ignored():
    entry = make_entry(
        previous_state={"error_message": "x"},
        new_state={"error_message": "y"},
        metadata={"password": REDACTED},
        redacted_fields=("/metadata/password", "/error_message"),
    )

    assert diff_entry(entry) == [Change("/error_message", "changed", "x", "y")]


def test_a_whole_redacted_state_is_one_hidden_change_at_the_root():
    assert diff_states(None, {"secret": REDACTED}, ["/new_state"]) == [Change("", "added", None, None, redacted=True)]
    assert diff_states({"a": 1}, {"secret": REDACTED}, ["/new_state"]) == [
        Change("", "changed", None, None, redacted=True)
    ]


def random_state(rng, depth=0):
    def value():
        kinds = ["int", "float", "bool", "str", "none", "secret"] + (["dict", "list"] if depth < 3 else [])
        kind = rng.choice(kinds)
        if kind == "dict":
            return random_state(rng, depth + 1)
        if kind == "list":
            return [random_state(rng, depth + 1) if rng.random() < 0.3 else rng.randint(0, 3) for _ in range(3)]
        return {
            "int": lambda: rng.randint(0, 2),
            "float": lambda: float(rng.randint(0, 2)),
            "bool": lambda: rng.random() < 0.5,
            "str": lambda: rng.choice(["a", "b", "0"]),
            "none": lambda: None,
            "secret": lambda: REDACTED,
        }[kind]()

    return {rng.choice("abcde"): value() for _ in range(rng.randint(0, 5))}


def redacted_pointers(root, value, prefix=""):
    if value == REDACTED:
        yield f"/{root}{prefix}"
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from redacted_pointers(root, child, f"{prefix}/{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from redacted_pointers(root, child, f"{prefix}/{index}")


def reordered(value):
    """The same JSON value with every object's keys inserted in reverse order."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


def values_shown(change):
    def walk(value):
        yield value
        if isinstance(value, dict):
            for child in value.values():
                yield from walk(child)
        elif isinstance(value, list):
            for child in value:
                yield from walk(child)

    yield from walk(change.before)
    yield from walk(change.after)


@pytest.mark.parametrize("seed", range(300))
def test_no_redacted_value_ever_shows_and_the_diff_is_deterministic(seed):
    rng = random.Random(seed)
    before = random_state(rng) if rng.random() < 0.9 else None
    after = random_state(rng) if rng.random() < 0.9 else None
    redacted = [*redacted_pointers("previous_state", before), *redacted_pointers("new_state", after)]

    changes = diff_states(before, after, redacted)

    assert all(REDACTED not in list(values_shown(change)) for change in changes)
    assert all(REDACTED not in repr(change_to_dict(change)) for change in changes)
    assert diff_states(reordered(before), reordered(after), list(reversed(redacted))) == changes
    assert not any(
        other.path.startswith(change.path + "/") for change in changes if change.redacted for other in changes
    )


def test_the_api_shape_shows_only_the_sides_that_exist():
    assert change_to_dict(Change("/a", "added", None, 1)) == {
        "path": "/a",
        "kind": "added",
        "redacted": False,
        "after": 1,
    }
    assert change_to_dict(Change("/a", "removed", 1, None)) == {
        "path": "/a",
        "kind": "removed",
        "redacted": False,
        "before": 1,
    }
    assert change_to_dict(Change("/a", "changed", 1, None)) == {
        "path": "/a",
        "kind": "changed",
        "redacted": False,
        "before": 1,
        "after": None,
    }
    assert change_to_dict(Change("/a", "changed", None, None, redacted=True)) == {
        "path": "/a",
        "kind": "changed",
        "redacted": True,
    }
