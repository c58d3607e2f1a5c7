"""Shell-style glob matching on ``/``-separated paths, for stores without one.

Same rules as Python's :mod:`glob`: ``*`` and ``?`` never cross ``/``,
``[...]`` is a character class (``[!...]`` negated), and a wildcard never
matches a leading ``.`` of a name unless the pattern segment starts with one.
"""

from __future__ import annotations

import re


def has_magic(pattern: str) -> bool:
    """Whether ``pattern`` contains a glob wildcard."""
    return any(c in pattern for c in "*?[")


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        i += 1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i
            if j < n and segment[j] == "!":
                j += 1
            if j < n and segment[j] == "]":
                j += 1
            while j < n and segment[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
                continue
            body = segment[i:j].replace("\\", "\\\\")
            i = j + 1
            if body.startswith("!"):
                body = "^" + body[1:]
            elif body.startswith("^"):
                body = "\\" + body
            out.append(f"[{body}]")
        else:
            out.append(re.escape(c))
    regex = "".join(out)
    if not segment.startswith(".") and has_magic(segment):
        regex = r"(?!\.)" + regex
    return regex


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regex matching whole paths that ``pattern`` matches.

    Args:
        pattern: a ``/``-separated path with ``*``, ``?`` and ``[...]``.

    Returns:
        A compiled pattern; use ``fullmatch``.
    """
    return re.compile("/".join(_segment_regex(s) for s in pattern.split("/")))
