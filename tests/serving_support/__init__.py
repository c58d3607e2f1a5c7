"""Helpers shared by the export and serving tests: tiny real checkpoints."""
