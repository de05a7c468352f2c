"""Process entrypoints: gRPC server, background worker, migrations, ledger check."""
