"""Use cases of the input pipeline: patterns to batches, synthetic data."""
