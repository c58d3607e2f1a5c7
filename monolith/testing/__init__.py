"""Importable test support for users who write their own adapters."""
