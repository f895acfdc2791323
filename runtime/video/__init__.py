"""Pose on video without HTTP: decoding and encoding (PyAV), top-down tracking with stable IDs, One-Euro
smoothing, and the frame-level orchestrator the video endpoints drive (runtime/video/README.md)."""
