"""Parsing storage URIs into scheme, authority and path.

Forms: a plain path (``/a/b`` or ``a/b``) and ``file://...`` are local;
``memory://a/b`` is the in-memory store; ``hdfs://host:port/a/b`` names a
NameNode (``hdfs:///a/b`` or ``hdfs:/a/b`` means the configured default).
"""

from __future__ import annotations

import re

import attrs

from monolith.domain.errors import UsageError

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$", re.DOTALL)
KNOWN_SCHEMES = ("file", "memory", "hdfs")


@attrs.frozen
class StorageUri:
    """A parsed URI; ``prefix + path`` rebuilds the original form."""

    scheme: str
    authority: str
    path: str
    prefix: str

    def with_path(self, path: str) -> str:
        """The URI of ``path`` in the same form (scheme and authority) as this one."""
        return self.prefix + path


def parse_uri(uri: str) -> StorageUri:
    """Split ``uri`` into scheme, authority and path.

    Args:
        uri: a plain path, ``file://path``, ``memory://path`` or
            ``hdfs://host:port/path``.

    Returns:
        The parsed URI. Local paths keep their relative or absolute form;
        memory and HDFS paths are absolute (start with ``/``).

    Raises:
        UsageError: for an empty string or an unknown scheme.
    """
    if not uri:
        raise UsageError("storage path is empty: expected a path or a URI")
    match = _SCHEME.match(uri)
    if match is None or len(match.group(1)) == 1:  # "C:" style drive letters
        return StorageUri("file", "", uri, "")
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme not in KNOWN_SCHEMES:
        raise UsageError(
            f"storage URI {uri!r} has unknown scheme {scheme!r}: expected a plain "
            "path or one of file://, memory://, hdfs://host:port/"
        )
    prefix_scheme = match.group(1) + ":"
    if rest.startswith("//"):
        body = rest[2:]
        if scheme == "file":
            return StorageUri("file", "", body, prefix_scheme + "//")
        if scheme == "memory":
            if body.startswith("/"):
                return StorageUri("memory", "", body, prefix_scheme + "//")
            return StorageUri("memory", "", "/" + body, prefix_scheme + "/")
        slash = body.find("/")
        authority = body if slash < 0 else body[:slash]
        path = "/" if slash < 0 else body[slash:]
        return StorageUri(scheme, authority, path, f"{prefix_scheme}//{authority}")
    if scheme == "file":
        return StorageUri("file", "", rest, prefix_scheme)
    path = rest if rest.startswith("/") else "/" + rest
    return StorageUri(scheme, "", path, prefix_scheme)
