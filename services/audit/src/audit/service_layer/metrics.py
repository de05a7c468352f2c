"""The audit service's Prometheus metrics (the shared gRPC and HTTP ones come from libs/common)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS_CONSUMED = Counter("audit_events_consumed_total", "Events taken off the queue and acked after commit")
ENTRIES_STORED = Counter("audit_entries_stored_total", "Entries appended to the chain")
EVENTS_DUPLICATE = Counter("audit_events_duplicate_total", "Redelivered or republished events skipped by id")
EVENTS_DEAD_LETTERED = Counter("audit_events_dead_lettered_total", "Invalid or failing events sent to the DLQ")
EVENTS_RETRIED = Counter("audit_events_retried_total", "Deliveries requeued after a failure")
QUEUE_DEPTH = Gauge("audit_consumer_lag_messages", "Events waiting in the sink's queue")
DEAD_LETTER_DEPTH = Gauge("audit_dead_letter_messages", "Events waiting in the sink's dead-letter queue")
LAG_SECONDS = Gauge("audit_consumer_lag_seconds", "Time from the newest stored event's occurrence to its storage")
CHECKPOINT_AGE = Gauge("audit_checkpoint_age_seconds", "Age of the newest signed checkpoint")
UNCHECKPOINTED = Gauge("audit_uncheckpointed_entries", "Entries appended since the newest checkpoint")
CHAIN_LENGTH = Gauge("audit_chain_length", "Entries ever appended to the chain")

OUTCOMES = {
    "processed": EVENTS_CONSUMED,
    "dead_lettered": EVENTS_DEAD_LETTERED,
    "retried": EVENTS_RETRIED,
}


def count_outcome(outcome: str) -> None:
    counter = OUTCOMES.get(outcome)
    if counter is not None:
        counter.inc()
