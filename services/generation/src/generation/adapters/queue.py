"""The job queue on RabbitMQ: a quorum queue of job ids, consumed one job at a time per consumer.

The database is the truth about a job; a message only says "job X may be runnable". Duplicate or
stale messages are harmless (claiming a job is a compare-and-set), and a lost message is sent again
by the scheduler. So the queue can be at-least-once without the job running twice.

Each consumer keeps its connection serviced (AMQP heartbeats, the broker's view of the consumer)
while the job runs in a thread of its own, and acks only after the job's final commit.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from kombu import Connection, Consumer, Message

from scenergy.common.ids import is_id
from scenergy.common.messaging import QueueSpec, Topology, connect

log = logging.getLogger(__name__)

RUN_ROUTING_KEY = "generation.job.run"
# The broker's backstop: a message redelivered this often (workers crashing before they could claim
# the job) is dead-lettered. Attempts of the job itself are counted in the database, not here.
DELIVERY_LIMIT = 10


def job_topology(exchange_name: str = "scenergy.jobs", queue_name: str = "generation.jobs") -> Topology:
    """A topic exchange of its own, so job messages never reach the audit sink's catch-all binding."""
    return Topology(exchange_name, (QueueSpec(queue_name, (RUN_ROUTING_KEY,), delivery_limit=DELIVERY_LIMIT),))


def job_queue(topology: Topology) -> QueueSpec:
    return topology.queues[0]


def job_message(job_id: str, dispatch_id: str) -> dict[str, str]:
    """The body of a run message. The dispatch id makes every (re)dispatch its own outbox row."""
    return {"id": dispatch_id, "type": RUN_ROUTING_KEY, "job_id": job_id}


def parse_job_message(body: object) -> str | None:
    """The job id of a message body, or None when the body is not a run message."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if not isinstance(body, dict):
        return None
    job_id = body.get("job_id")
    return job_id if isinstance(job_id, str) and is_id(job_id, "job") else None


class JobConsumer:
    """One consumer with prefetch 1: takes a job id, runs `handle(job_id)` in a thread, acks after it."""

    def __init__(
        self,
        broker_url: str,
        topology: Topology,
        handle: Callable[[str], object],
        *,
        name: str,
        heartbeat_s: int = 30,
    ) -> None:
        self._broker_url = broker_url
        self._topology = topology
        self._handle = handle
        self._name = name
        self._heartbeat_s = heartbeat_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-job")
        self._running: tuple[Message, Future[object]] | None = None
        self._failures = 0
        self.last_beat = time.monotonic()

    def _on_message(self, body: object, message: Message) -> None:
        job_id = parse_job_message(body)
        if job_id is None:
            # Not ours to interpret: the queue's dead-letter exchange keeps it for inspection.
            log.error("dead-lettering a malformed job message", extra={"consumer": self._name})
            message.reject(requeue=False)
            return
        self._running = (message, self._executor.submit(self._handle, job_id))

    def _finish(self) -> None:
        assert self._running is not None
        message, future = self._running
        self._running = None
        try:
            future.result()
        except Exception:
            # The job's own failures are recorded by the handler; this is the database or a bug.
            # Back off before the message comes back, so an outage doesn't become a hot loop.
            self._failures += 1
            log.exception("job handling failed; requeueing", extra={"consumer": self._name})
            time.sleep(min(0.5 * 2**self._failures, 30.0))
            message.requeue()
            return
        self._failures = 0
        message.ack()

    def run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                with connect(self._broker_url, heartbeat=self._heartbeat_s) as connection:
                    self._consume(connection, stopping)
            except (OSError, ConnectionError) as exc:  # the broker went away: reconnect
                log.warning("job consumer lost the broker", extra={"consumer": self._name, "error": str(exc)})
                self._running = None  # its unacked message returns to the queue with the channel
                stopping.wait(1.0)
            except Exception:
                log.exception("job consumer failed", extra={"consumer": self._name})
                self._running = None
                stopping.wait(1.0)
        self._executor.shutdown(wait=True, cancel_futures=False)

    def _consume(self, connection: Connection, stopping: threading.Event) -> None:
        channel = connection.channel()
        queue = self._topology.queue(job_queue(self._topology))(channel)
        self._topology.declare(connection)
        # Prefetch 1: a consumer holds one job at a time, so others can take the rest of the queue.
        consumer = Consumer(channel, [queue], callbacks=[self._on_message], accept=["json"], prefetch_count=1)
        consumer.consume()
        while True:
            self.last_beat = time.monotonic()
            if self._running is not None:
                # Wakes the moment the job ends; meanwhile keep the connection's heartbeats going.
                wait([self._running[1]], timeout=1.0)
                if self._running[1].done():
                    self._finish()
                else:
                    connection.heartbeat_check()
                continue
            if stopping.is_set():  # only between jobs: a running job finishes and is acked first
                consumer.cancel()
                return
            try:
                connection.drain_events(timeout=0.5)
            except TimeoutError:
                connection.heartbeat_check()
