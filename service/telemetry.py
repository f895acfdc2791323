"""Prometheus metrics of one app instance (own registry, so several apps can live in one process)."""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from runtime.batching import BatchObserver

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

    def batch_observer(self, model: str) -> BatchObserver:
        """The batcher's hook for `model`: records each batch's real crops, compute time and padding."""
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
