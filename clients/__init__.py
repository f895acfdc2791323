"""Command-line clients of the pose service: scoring, batch MPII evaluation, single images."""
