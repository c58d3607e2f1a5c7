"""Coordinator adapters: the chief's barrier and step service, and its client."""
