"""ServiceDiscovery adapters, one backend per module."""
