"""The pose service: FastAPI app serving exported Stacked Hourglass models (see service/README.md)."""
