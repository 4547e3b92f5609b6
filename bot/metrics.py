"""Prometheus metrics, each set in its own registry (no global state: tests build many apps)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Bulwark's counters, gauges and histograms, rendered in Prometheus text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.deliveries = Counter(
            "bulwark_webhook_deliveries",
            "Webhook deliveries received, by event and outcome.",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.jobs = Counter(
            "bulwark_jobs", "Jobs by kind and outcome.", ["kind", "outcome"], registry=self.registry
        )
        self.queue_depth = Gauge(
            "bulwark_queue_depth", "Jobs waiting in the queue.", registry=self.registry
        )
        self.github_requests = Counter(
            "bulwark_github_requests",
            "Requests sent to GitHub, by method and status.",
            ["method", "status"],
            registry=self.registry,
        )
        self.rate_limit_remaining = Gauge(
            "bulwark_github_rate_limit_remaining",
            "GitHub's x-ratelimit-remaining, by installation.",
            ["installation"],
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "bulwark_job_duration_seconds",
            "How long jobs ran, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.lock_waits = Counter(
            "bulwark_lock_waits",
            "Jobs that found their repository locked by another worker and went back to the queue.",
            registry=self.registry,
        )
        self.redeliveries = Counter(
            "bulwark_redeliveries",
            "Redeliveries of failed webhook deliveries asked of GitHub, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.lost_deliveries = Gauge(
            "bulwark_lost_deliveries",
            "Failed deliveries (no OK attempt) seen by the last redelivery pass.",
            registry=self.registry,
        )
        # Labelled children, looked up once: `labels()` costs more than the increment, and
        # these run for every delivery on the acknowledgement path.
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def delivery(self, event: str, outcome: str) -> None:
        """Count one webhook delivery."""
        self._child(self.deliveries, event, outcome).inc()

    def job(self, kind: str, outcome: str, duration: float | None = None) -> None:
        """Count one job's outcome and, when it ran, its duration."""
        self._child(self.jobs, kind, outcome).inc()
        if duration is not None:
            self._child(self.job_duration, kind).observe(duration)

    def depth(self, value: int) -> None:
        """Set the queue depth gauge."""
        self.queue_depth.set(value)

    def request(self, method: str, status: int | str) -> None:
        """Count one request to GitHub."""
        self.github_requests.labels(method=method.upper(), status=str(status)).inc()

    def rate_limit(self, installation: int | str, remaining: int) -> None:
        """Record the rate-limit budget GitHub last reported for an installation."""
        self.rate_limit_remaining.labels(installation=str(installation)).set(remaining)

    def redelivery_pass(self, asked: int, refused: int, lost: int) -> None:
        """Record one redelivery pass."""
        self.redeliveries.labels(outcome="asked").inc(asked)
        self.redeliveries.labels(outcome="refused").inc(refused)
        self.lost_deliveries.set(lost)

    def render(self) -> bytes:
        """Return every metric in Prometheus text format."""
        return generate_latest(self.registry)
