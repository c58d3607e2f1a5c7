"""A small WebHDFS-protocol server over a local directory, for tests.

It speaks the REST calls monolith's HDFS adapter makes, with the NameNode's
two-step dance: ``CREATE``, ``APPEND`` and ``OPEN`` first answer ``307`` with
a ``Location`` (the "DataNode", here the same server with ``datanode=true``),
and the data goes to that second URL. Errors are the ``RemoteException`` JSON
a NameNode sends. Also ``GETFILESTATUS``, ``LISTSTATUS``, ``MKDIRS``,
``DELETE`` (``recursive``), ``RENAME`` (``{"boolean": false}`` when the
target exists, like HDFS) and ``GETHOMEDIRECTORY``.

Auth: ``user.name`` is recorded; with ``require_token`` set, every request
must carry ``delegation=<token>`` or gets ``401 SecurityException``.

Not a NameNode: no permissions, replication, leases or block locations; an
``OPEN`` redirect pins the file that existed at the first step (like a
DataNode still serving a deleted file's blocks).

Usage::

    with WebHdfsTestServer(root_dir) as server:
        url = server.url  # http://127.0.0.1:<port>
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

logger = logging.getLogger(__name__)

PREFIX = "/webhdfs/v1"


class _RemoteError(Exception):
    def __init__(self, status: int, exception: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.exception = exception
        self.message = message


class WebHdfsTestServer:
    """Serves ``root`` as an HDFS namespace on ``127.0.0.1`` (a free port).

    Args:
        root: local directory holding the files.
        require_token: if set, the delegation token every request must carry.
    """

    def __init__(self, root: str, require_token: str | None = None) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self._scratch = self.root.rstrip("/") + ".scratch"
        os.makedirs(self._scratch, exist_ok=True)
        self.require_token = require_token
        self.users: list[str] = []
        self.ops: list[str] = []
        self._tickets: dict[int, str] = {}
        self._ticket_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authority(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> WebHdfsTestServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhdfs-test", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> WebHdfsTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------- namespace
    def local(self, hdfs_path: str) -> str:
        clean = os.path.normpath("/" + hdfs_path.lstrip("/"))
        return os.path.join(self.root, clean.lstrip("/"))

    def status(self, hdfs_path: str, suffix: str = "") -> dict[str, Any]:
        local = self.local(hdfs_path)
        st = os.stat(local)
        is_dir = os.path.isdir(local)
        return {
            "accessTime": int(st.st_atime * 1000),
            "blockSize": 0 if is_dir else 134217728,
            "childrenNum": len(os.listdir(local)) if is_dir else 0,
            "group": "supergroup",
            "length": 0 if is_dir else st.st_size,
            "modificationTime": int(st.st_mtime * 1000),
            "owner": "monolith",
            "pathSuffix": suffix,
            "permission": "755" if is_dir else "644",
            "replication": 0 if is_dir else 1,
            "type": "DIRECTORY" if is_dir else "FILE",
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("webhdfs test server " + format, *args)

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_PUT(self) -> None:
                self._dispatch("PUT")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def do_DELETE(self) -> None:
                self._dispatch("DELETE")

            def _dispatch(self, method: str) -> None:
                parts = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                try:
                    if not parts.path.startswith(PREFIX):
                        raise _RemoteError(
                            404, "IllegalArgumentException", "not a WebHDFS URL"
                        )
                    path = unquote(parts.path[len(PREFIX) :]) or "/"
                    op = params.get("op", "").upper()
                    server._auth(params)
                    with server._lock:
                        server.ops.append(op)
                    try:
                        server._serve(self, method, op, path, params, parts.query)
                    except FileNotFoundError as exc:
                        # The path went away between a check and its use (a
                        # concurrent delete or rename): a NameNode says 404.
                        raise _RemoteError(
                            404,
                            "FileNotFoundException",
                            f"File does not exist: {path} ({exc.strerror})",
                        ) from None
                except _RemoteError as err:
                    self._drain_body()
                    body = json.dumps(
                        {
                            "RemoteException": {
                                "exception": err.exception,
                                "javaClassName": f"org.apache.hadoop.{err.exception}",
                                "message": err.message,
                            }
                        }
                    ).encode()
                    self.send(err.status, body)

            def _drain_body(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)

            def body_chunks(self) -> Any:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return
                        yield self.rfile.read(size)
                        self.rfile.readline()
                remaining = int(self.headers.get("Content-Length") or 0)
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        return
                    remaining -= len(chunk)
                    yield chunk

            def send(
                self,
                status: int,
                body: bytes = b"",
                headers: dict[str, str] | None = None,
                content_type: str = "application/json",
            ) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def send_json(self, payload: dict[str, Any], status: int = 200) -> None:
                self.send(status, json.dumps(payload).encode())

        return Handler

    def _auth(self, params: dict[str, str]) -> None:
        if "user.name" in params:
            with self._lock:
                self.users.append(params["user.name"])
        if (
            self.require_token is not None
            and params.get("delegation") != self.require_token
        ):
            raise _RemoteError(
                401,
                "SecurityException",
                "Failed to obtain user group information: missing or invalid "
                "delegation token",
            )

    def _redirect(self, handler: Any, path: str, query: str, extra: str = "") -> None:
        location = f"{self.url}{PREFIX}{quote(path)}?{query}&datanode=true{extra}"
        handler._drain_body()
        handler.send(307, headers={"Location": location})

    def _serve(
        self,
        handler: Any,
        method: str,
        op: str,
        path: str,
        params: dict[str, str],
        query: str,
    ) -> None:
        local = self.local(path)
        datanode = params.get("datanode") == "true"
        if method == "GET" and op == "GETFILESTATUS":
            self._require(local, path)
            handler.send_json({"FileStatus": self.status(path)})
        elif method == "GET" and op == "LISTSTATUS":
            self._require(local, path)
            if os.path.isdir(local):
                entries = [
                    self.status(path.rstrip("/") + "/" + name, suffix=name)
                    for name in sorted(os.listdir(local))
                ]
            else:
                entries = [self.status(path)]
            handler.send_json({"FileStatuses": {"FileStatus": entries}})
        elif method == "GET" and op == "GETHOMEDIRECTORY":
            user = params.get("user.name", "dr.who")
            handler.send_json({"Path": f"/user/{user}"})
        elif method == "GET" and op == "OPEN":
            self._open(handler, local, path, params, query, datanode)
        elif method == "PUT" and op == "MKDIRS":
            self._mkdirs(local, path)
            handler.send_json({"boolean": True})
        elif method == "PUT" and op == "CREATE":
            if not datanode:
                self._redirect(handler, path, query)
                return
            self._create(handler, local, path, params)
        elif method == "POST" and op == "APPEND":
            if not datanode:
                self._require(local, path)
                self._redirect(handler, path, query)
                return
            self._require(local, path)
            with open(local, "ab") as out:
                for chunk in handler.body_chunks():
                    out.write(chunk)
            handler.send(200)
        elif method == "PUT" and op == "RENAME":
            handler.send_json({"boolean": self._rename(local, params)})
        elif method == "DELETE" and op == "DELETE":
            handler.send_json(
                {
                    "boolean": self._delete(
                        local, path, params.get("recursive") == "true"
                    )
                }
            )
        else:
            raise _RemoteError(
                400,
                "UnsupportedOperationException",
                f"op={op} with {method} is not supported by this test server",
            )

    def _require(self, local: str, path: str) -> None:
        if not os.path.exists(local):
            raise _RemoteError(
                404, "FileNotFoundException", f"File does not exist: {path}"
            )

    def _open(
        self,
        handler: Any,
        local: str,
        path: str,
        params: dict[str, str],
        query: str,
        datanode: bool,
    ) -> None:
        if not datanode:
            self._require(local, path)
            if os.path.isdir(local):
                raise _RemoteError(
                    404, "FileNotFoundException", f"Path is not a file: {path}"
                )
            ticket = next(self._ticket_ids)
            pinned = os.path.join(self._scratch, f"pin-{ticket}")
            with self._lock:
                # Pin the current content: a hard link survives a later
                # delete or rename of the path, as DataNode blocks do.
                os.link(local, pinned)  # FileNotFoundError: deleted meanwhile
                self._tickets[ticket] = pinned
            self._redirect(handler, path, query, extra=f"&ticket={ticket}")
            return
        with self._lock:
            pinned = self._tickets.pop(int(params.get("ticket", "0")), "")
        if not pinned:
            self._require(local, path)
            pinned = local
        try:
            size = os.path.getsize(pinned)
            offset = int(params.get("offset", "0"))
            length = int(params.get("length", str(max(size - offset, 0))))
            if offset > size:
                raise _RemoteError(
                    403,
                    "IOException",
                    f"Offset={offset} out of the range [0, {size}); path={path}",
                )
            with open(pinned, "rb") as src:
                src.seek(offset)
                data = src.read(max(0, min(length, size - offset)))
        finally:
            if pinned != local:
                os.remove(pinned)
        handler.send(200, data, content_type="application/octet-stream")

    def _mkdirs(self, local: str, path: str) -> None:
        probe = local
        while probe.startswith(self.root) and probe != self.root:
            if os.path.isfile(probe):
                raise _RemoteError(
                    403,
                    "FileAlreadyExistsException",
                    f"Parent path is not a directory: {path}",
                )
            probe = os.path.dirname(probe)
        os.makedirs(local, exist_ok=True)

    def _create(
        self, handler: Any, local: str, path: str, params: dict[str, str]
    ) -> None:
        if os.path.isdir(local):
            raise _RemoteError(
                403,
                "FileAlreadyExistsException",
                f"{path} already exists as a directory",
            )
        if os.path.exists(local) and params.get("overwrite", "false") != "true":
            raise _RemoteError(
                403, "FileAlreadyExistsException", f"{path} for client already exists"
            )
        self._mkdirs(os.path.dirname(local), os.path.dirname(path))
        tmp = os.path.join(self._scratch, f"create-{next(self._ticket_ids)}")
        with open(tmp, "wb") as out:
            for chunk in handler.body_chunks():
                out.write(chunk)
        os.replace(tmp, local)
        handler.send(201, headers={"Location": f"hdfs://{self.authority}{quote(path)}"})

    def _rename(self, local: str, params: dict[str, str]) -> bool:
        destination = params.get("destination", "")
        if not destination.startswith("/"):
            raise _RemoteError(
                400, "IllegalArgumentException", f"Invalid destination {destination!r}"
            )
        target = self.local(destination)
        if not os.path.exists(local) or os.path.exists(target):
            return False
        if not os.path.isdir(os.path.dirname(target)):
            return False
        os.rename(local, target)
        return True

    def _delete(self, local: str, path: str, recursive: bool) -> bool:
        if not os.path.exists(local) or local == self.root:
            return False
        if os.path.isdir(local):
            if os.listdir(local) and not recursive:
                raise _RemoteError(
                    403, "PathIsNotEmptyDirectoryException", f"{path} is non empty"
                )
            shutil.rmtree(local)
        else:
            os.remove(local)
        return True
