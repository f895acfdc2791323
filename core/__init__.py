"""Shared pose library: joints, crop geometry, heatmap codec, MPII I/O, metrics, model-repository schema.

Training, the service and the clients all import from here, so that they crop, encode, decode and score in
exactly one way: the reference's (see docs/reference-decisions.md). No deep-learning framework is imported.
"""
