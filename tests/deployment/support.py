"""Servers the deployment tests point chatkit-onprem at: HTTPS JWKS, HTTPS and non-S3 object stores."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


class StaticHttpServer:
    """Answers every request with one fixed body (optionally over TLS); counts requests."""

    def __init__(
        self,
        body: Callable[[], bytes],
        *,
        content_type: str = "application/json",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, with_body: bool) -> None:
                server.hits += 1
                data = body()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if with_body:
                    self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

            def do_PUT(self) -> None:
                self._answer(True)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def json_body(make: Callable[[], Any]) -> Callable[[], bytes]:
    return lambda: json.dumps(make()).encode()


class TlsMoto:
    """moto's own WSGI app served over HTTPS with the given server certificate."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1",
            0,
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
            request_handler=MotoRequestHandler,
            ssl_context=tls,
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
