"""Verify the audit chain from the command line: `audit-verify` (exit 0 intact, 1 tampered).

Prints the report as JSON: entries checked, missing entries, and every problem found with its entry
(the first one is the first bad id). Reads DATABASE_URL and AUDIT_SIGNING_KEY like the service.
`audit-verify --checkpoint` also signs a checkpoint of the head when the chain is intact.
"""

from __future__ import annotations

import argparse
import json
import sys

from audit.bootstrap import bootstrap
from audit.config import Settings
from audit.service_layer.verify import verify_chain
from scenergy.common.logging import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="audit-verify", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="store_true", help="sign a checkpoint of the head if intact")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    configure_logging("audit-verify", settings.log_level)
    container = bootstrap(settings, process="verify")
    try:
        report = verify_chain(container.store)
        output = report.to_dict()
        if args.checkpoint and report.ok:
            output["checkpoint"] = container.store.checkpoint("manual").id
    finally:
        container.close()
    json.dump(output, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
