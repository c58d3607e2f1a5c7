"""Implementations of the ports, one backend per module. Re-exports nothing."""
