"""Adapters: PostgreSQL tables, the ledger repository, read views."""
