"""Runnable comparisons against the anchors in PERF.md.

Each ``python -m benchmarks.<name> [--quick]`` measures monolith and its
anchor in the same run, prints a table and ends with one line::

    RESULT name=<name> ours=<v> anchor=<v> unit=<u> ratio=<x>

where ``ratio`` is oriented so that above 1 means better than the anchor.
"""
