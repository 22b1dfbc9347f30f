"""Serving: the FastAPI app and batch scoring, both on `model.runtime.Classifier` (no torch)."""
