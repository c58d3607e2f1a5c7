"""Serving use cases: load an export, answer Predict, apply deltas, hot reload."""
