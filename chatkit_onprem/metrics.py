"""Prometheus metrics, in a registry of our own (no default process collectors' surprises).

Label cardinality is bounded by configuration: tenants and aliases, never users,
threads or request ids. Per-user token accounting lives in the ``usage`` table.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

TOKENS = Counter(
    "chatkit_model_tokens",
    "Model tokens consumed, by tenant, alias and direction (input/output).",
    ["tenant", "alias", "direction"],
    registry=REGISTRY,
)
TURNS = Counter(
    "chatkit_turns",
    "Assistant turns by outcome (ok, upstream_error, cancelled, error).",
    ["outcome"],
    registry=REGISTRY,
)
UPSTREAM_FAILURES = Counter(
    "chatkit_upstream_failures",
    "Failed model calls by alias and kind (unreachable, timeout, rate_limited, proxy, tls, cut, ...).",
    ["alias", "kind"],
    registry=REGISTRY,
)
FALLBACKS = Counter(
    "chatkit_model_fallbacks",
    "Turns answered by a fallback alias, by the alias that answered.",
    ["alias"],
    registry=REGISTRY,
)
FIRST_EVENT_SECONDS = Histogram(
    "chatkit_turn_first_event_seconds",
    "Time from the start of a turn to the first model event passed to the client.",
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
STORE_COMMITS = Counter(
    "chatkit_store_commits",
    "Transactions committed by the writer (group commit: writes / commits = batch size).",
    registry=REGISTRY,
)
STORE_WRITES = Counter(
    "chatkit_store_writes",
    "Writes committed (each acknowledged only after its transaction committed).",
    registry=REGISTRY,
)
STORE_WRITE_SECONDS = Histogram(
    "chatkit_store_write_seconds",
    "Time from a write being queued for the single writer to its commit: what a turn's commit waits "
    "behind (other writes, a background job's batch, an engine checkpoint) plus its own transaction. "
    "writer: write (requests, and jobs on DuckDB) or write-background (admin jobs on PostgreSQL).",
    ["writer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
DEPENDENCY_UP = Gauge(
    "chatkit_dependency_up",
    "1 while a readiness check passes, else 0; check: store (required), blobs, upstream.<name>, idp "
    "(optional: they degrade features, not the pod).",
    ["check"],
    registry=REGISTRY,
)


STREAMS_ACTIVE = Gauge(
    "chatkit_streams_active",
    "ChatKit streams running now (admitted, not yet ended).",
    registry=REGISTRY,
)
STREAMS_ADMITTED = Counter(
    "chatkit_streams_admitted",
    "ChatKit streams admitted (under server.max_streams).",
    registry=REGISTRY,
)
STREAMS_SHED = Counter(
    "chatkit_streams_shed",
    "ChatKit streams refused with 503 because server.max_streams were running.",
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "chatkit_http_requests",
    "HTTP requests by route template, method and status (unmatched routes: 'unmatched').",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "chatkit_http_request_duration_seconds",
    "Time from request start to the end of the response (whole stream for SSE), by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)


def render() -> bytes:
    """This process's metrics; with several Granian workers, all of them (prometheus-client's
    multiprocess files under ``PROMETHEUS_MULTIPROC_DIR``, which ``serve`` sets; gauges then
    carry a ``pid`` label)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        from prometheus_client import multiprocess

        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined, path=folder)  # type: ignore[no-untyped-call]
        return generate_latest(combined)
    return generate_latest(REGISTRY)
