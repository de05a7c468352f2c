"""Pure domain of the ledger: no framework, database or transport imports."""
