"""Prometheus metrics of one app instance (own registry, so several apps can live in one process).

Every label takes its values from a closed set, so no client can add a series: methods from METHODS and
statuses from HTTP's registered codes (anything else is `other`), routes from the app's own route templates
(`unmatched` for a path no route takes), models from the versions served (the series of a version that
left are dropped at the next scrape).
"""

import http

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from runtime.batching import BatchObserver

OTHER_LABEL = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})
STATUSES = frozenset(str(status.value) for status in http.HTTPStatus)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class ServiceMetrics:
    """Requests by route and status, request latency, queue wait apart from compute, batch sizes."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hgpose_requests_total",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hgpose_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "hgpose_queue_wait_seconds",
            "time a request's crops waited for a batch",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.compute = Histogram(
            "hgpose_inference_seconds",
            "backend time of one batch",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "hgpose_batch_size",
            "real crops per backend call (padding not counted)",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.padded_crops = Counter(
            "hgpose_padded_crops_total",
            "zero crops added to fill a batch up to a backend batch size (Lite gear)",
            ["model"],
            registry=self.registry,
        )
        self.queued_crops = Gauge(
            "hgpose_queued_crops", "crops waiting for a batch", ["model"], registry=self.registry
        )
        self.models_ready = Gauge("hgpose_models_ready", "model versions ready", registry=self.registry)
        self.repository_readable = Gauge(
            "hgpose_repository_readable",
            "1 when the last scan could list the model repository, 0 when it could not",
            registry=self.registry,
        )
        self.repository_scan_failures = Counter(
            "hgpose_repository_scan_failures",
            "scans of the model repository (polls, control requests, the index) that could not list it",
            registry=self.registry,
        )
        self._scan_failures_counted = 0
        self._model_metrics = (self.queue_wait, self.compute, self.batch_size, self.padded_crops)
        self._model_labels: set[str] = set()

    def count_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request; `route` is a route template of the app or `unmatched`."""
        method_label = method if method in METHODS else OTHER_LABEL
        status_label = str(status) if str(status) in STATUSES else OTHER_LABEL
        self.requests.labels(route=route, method=method_label, status=status_label).inc()
        self.latency.labels(route=route).observe(seconds)

    def observe_queue_wait(self, model: str, seconds: float) -> None:
        self._model_labels.add(model)
        self.queue_wait.labels(model=model).observe(seconds)

    def keep_models(self, served: set[str]) -> None:
        """Drop the series of model versions no longer served (the others keep theirs)."""
        for label in self._model_labels - served:
            for metric in self._model_metrics:
                metric.remove(label)  # nothing to do where it has no series for it
        self._model_labels &= served

    def observe_repository(self, readable: bool, failed_scans: int) -> None:
        """The live repository's health at scrape time (its count only grows)."""
        self.repository_readable.set(1 if readable else 0)
        self.repository_scan_failures.inc(failed_scans - self._scan_failures_counted)
        self._scan_failures_counted = failed_scans

    def batch_observer(self, model: str) -> BatchObserver:
        """The batcher's hook for `model`: records each batch's real crops, compute time and padding."""
        self._model_labels.add(model)
        sizes = self.batch_size.labels(model=model)
        compute = self.compute.labels(model=model)
        padded_crops = self.padded_crops.labels(model=model)

        def observe(size: int, seconds: float, padded: int) -> None:
            sizes.observe(size)
            compute.observe(seconds)
            padded_crops.inc(padded)

        return observe

    def render(self) -> bytes:
        return generate_latest(self.registry)
