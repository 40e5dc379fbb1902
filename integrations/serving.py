"""Serve a WSGI app (a sandbox, or the app itself in tests) over real HTTP on a local port."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, make_server


@dataclass
class RunningServer:
    server: BaseWSGIServer
    thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(app, port: int = 0, threaded: bool = True) -> RunningServer:
    """Start `app` on 127.0.0.1:`port` (0 = a free port) in a daemon thread."""
    server = make_server("127.0.0.1", port, app, threaded=threaded)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"serve:{server.server_port}", daemon=True)
    thread.start()
    return RunningServer(server=server, thread=thread)
