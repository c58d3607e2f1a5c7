"""Collisionless embedding tables: config, initializers, optimizers, filters."""
