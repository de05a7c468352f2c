"""A generation runner process for the crash tests: `python crash_runner.py <config.json>`.

With `crash_at` set it kills itself with SIGKILL at that point of its first attempt; `during_upload`
is the moment boto3 sends the PutObject request. Everything else is the production runner: the
real google-genai client against the wire server, boto3 against the local S3 server, RabbitMQ.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any

from generation.adapters.provider import GeminiProvider
from generation.adapters.storage import S3Storage
from generation.bootstrap import bootstrap
from generation.config import Settings
from generation.testing import background


def die(*_: Any, **__: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    with open(sys.argv[1]) as file:
        config = json.load(file)
    crash_at = config.pop("crash_at", None)
    gemini, s3 = config.pop("gemini"), config.pop("s3")
    storage = S3Storage(
        s3["bucket"], endpoint_url=s3["endpoint_url"], access_key_id=s3["key"], secret_access_key=s3["secret"]
    )
    if crash_at == "during_upload":
        storage._client.meta.events.register("before-send.s3.PutObject", die)
    provider = GeminiProvider(gemini["api_key"], base_url=gemini["base_url"], timeout_s=30)
    container = bootstrap(Settings(**config), process="crash-test", provider=provider, storage=storage)

    def checkpoint(point: str) -> None:
        if point == crash_at:
            die()

    with background(container, worker=False, checkpoint=checkpoint, worker_id=f"crash-{os.getpid()}"):
        print("ready", flush=True)
        threading.Event().wait()  # until the test kills or terminates us


if __name__ == "__main__":
    main()
