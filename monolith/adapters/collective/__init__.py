"""AllReduce adapters for sync-dense training."""
