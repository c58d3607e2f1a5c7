"""Use cases, the dependency-injection container and the command line."""
