"""Multi-process training: workers against remote parameter servers."""
