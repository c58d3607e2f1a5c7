"""A Consul-HTTP-API test server on loopback: just what ConsulDiscovery uses.

Behaviour follows Consul's API docs: ``PUT /v1/agent/service/register``
(JSON, keys case-insensitive; a service's ``Check``/``Checks`` get id
``service:<id>`` / ``service:<id>:<n>`` unless ``CheckID`` is given; TTL
checks start ``critical``), ``PUT /v1/agent/service/deregister/<id>`` (404 for
an unknown id), ``PUT /v1/agent/check/{pass,warn,fail}/<id>`` (a passed TTL
check turns ``critical`` once its TTL elapses), ``GET
/v1/health/service/<name>`` (``?passing`` keeps only entries whose checks all
pass; ``X-Consul-Index`` header). With ``acl_token`` set, writes without that
token (``X-Consul-Token`` header or ``?token=``) get 403 "Permission denied"
and reads are filtered to nothing with ``X-Consul-Results-Filtered-By-ACLs``.
``blacklist`` hides services at the given addresses from every lookup.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_DURATION = re.compile(r"([\d.]+)(ns|us|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(text: str) -> float:
    return sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))


def _lower(obj: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): v for k, v in obj.items()}


class ConsulState:
    """The agent's services and checks; ``now`` is injectable for TTL expiry."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self.now = now
        self.lock = threading.Lock()
        self.services: dict[str, dict[str, Any]] = {}
        self.checks: dict[str, dict[str, Any]] = {}
        self.index = 1
        self.acl_token: str | None = None
        self.blacklist: set[str] = set()

    def status(self, check: dict[str, Any]) -> str:
        if check["ttl"] and check["status"] == "passing":
            if self.now() > check["updated"] + check["ttl"]:
                check["status"] = "critical"
        return str(check["status"])


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(
        self, code: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        data = (
            b""
            if body is None
            else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Consul-Index", str(self.server.state.index))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _parsed(self) -> tuple[str, dict[str, list[str]]]:
        url = urllib.parse.urlsplit(self.path)
        return url.path, urllib.parse.parse_qs(url.query, keep_blank_values=True)

    def _token_ok(self, query: dict[str, list[str]]) -> bool:
        wanted = self.server.state.acl_token
        given = self.headers.get("X-Consul-Token") or (query.get("token") or [""])[0]
        return wanted is None or given == wanted

    def do_PUT(self) -> None:
        path, query = self._parsed()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        state = self.server.state
        if not self._token_ok(query):
            self._reply(403, "Permission denied")
            return
        with state.lock:
            state.index += 1
            if path == "/v1/agent/service/register":
                self._register(_lower(json.loads(body or b"{}")))
            elif path.startswith("/v1/agent/service/deregister/"):
                sid = path.rsplit("/", 1)[1]
                if sid not in state.services:
                    self._reply(404, f'Unknown service ID "{sid}"')
                    return
                del state.services[sid]
                for cid in [c for c, v in state.checks.items() if v["service"] == sid]:
                    del state.checks[cid]
                self._reply(200)
            elif m := re.match(r"^/v1/agent/check/(pass|warn|fail)/(.+)$", path):
                kind, cid = m.groups()
                check = state.checks.get(urllib.parse.unquote(cid))
                if check is None:
                    self._reply(404, f'Unknown check ID "{cid}"')
                    return
                check["status"] = {"pass": "passing", "warn": "warning"}.get(
                    kind, "critical"
                )
                check["updated"] = state.now()
                self._reply(200)
            else:
                self._reply(404, "unsupported by the test server")

    def _register(self, spec: dict[str, Any]) -> None:
        state = self.server.state
        if not spec.get("name"):
            self._reply(400, "Missing service name")
            return
        sid = spec.get("id") or spec["name"]
        for cid in [c for c, v in state.checks.items() if v["service"] == sid]:
            del state.checks[cid]
        state.services[sid] = {
            "ID": sid,
            "Service": spec["name"],
            "Tags": list(spec.get("tags") or []),
            "Address": spec.get("address") or "127.0.0.1",
            "Port": int(spec.get("port") or 0),
            "Meta": dict(spec.get("meta") or {}),
        }
        checks = [spec["check"]] if spec.get("check") else []
        checks += list(spec.get("checks") or [])
        for n, raw in enumerate(checks, start=1):
            check = _lower(raw)
            default = f"service:{sid}" if len(checks) == 1 else f"service:{sid}:{n}"
            cid = check.get("checkid") or check.get("id") or default
            state.checks[cid] = {
                "service": sid,
                "ttl": _seconds(check.get("ttl") or ""),
                "status": check.get("status") or "critical",
                "updated": state.now(),
            }
        self._reply(200)

    def do_GET(self) -> None:
        path, query = self._parsed()
        state = self.server.state
        m = re.match(r"^/v1/health/service/(.+)$", path)
        if m is None:
            self._reply(404, "unsupported by the test server")
            return
        if not self._token_ok(query):
            self._reply(200, [], {"X-Consul-Results-Filtered-By-ACLs": "true"})
            return
        name = urllib.parse.unquote(m.group(1))
        passing = "passing" in query and query["passing"][0] not in ("0", "false")
        entries = []
        with state.lock:
            for sid, svc in state.services.items():
                if svc["Service"] != name or svc["Address"] in state.blacklist:
                    continue
                checks = [
                    {"CheckID": cid, "ServiceID": sid, "Status": state.status(c)}
                    for cid, c in state.checks.items()
                    if c["service"] == sid
                ]
                if passing and any(c["Status"] != "passing" for c in checks):
                    continue
                entries.append(
                    {
                        "Node": {"Node": "test-node", "Address": "127.0.0.1"},
                        "Service": dict(svc),
                        "Checks": checks,
                    }
                )
        self._reply(200, entries)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ConsulState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@contextmanager
def consul_api_server(
    state: ConsulState | None = None,
) -> Iterator[tuple[str, ConsulState]]:
    """Serve on a free 127.0.0.1 port; yields ``("127.0.0.1:<port>", state)``."""
    state = state or ConsulState()
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
