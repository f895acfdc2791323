"""HTTP routes: /v1/pose, /v1/models, health and metrics."""
