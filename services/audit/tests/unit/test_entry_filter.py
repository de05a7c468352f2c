"""The audit log's query filter refuses what it can't search, before any SQL."""

import pytest

from audit.domain.errors import InvalidArgument
from audit.views import EntryFilter


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "credit.grant\n"},  # `$` alone would let a trailing newline through
        {"action": "Credit.Grant"},
        {"entity_type": "client\n"},
        {"actor_type": "admin\n"},
        {"outcome": "maybe"},
    ],
)
def test_a_malformed_filter_is_refused(fields):
    with pytest.raises(InvalidArgument):
        EntryFilter(**fields).validate()


def test_a_well_formed_filter_passes():
    assert EntryFilter(action="credit.grant", entity_type="client", actor_type="admin").validate()
