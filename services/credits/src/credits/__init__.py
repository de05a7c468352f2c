"""The credits ledger service."""
