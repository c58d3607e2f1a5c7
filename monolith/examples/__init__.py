"""The built-in tasks (model zoo), registered by dotted name."""
