"""A private PostgreSQL started from the ``pgserver`` package, so the product runs with nothing installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pgserver

DATABASE = "callcenter"


class EmbeddedPostgres:
    def __init__(self, server: Any, data_dir: Path) -> None:
        self._server = server
        self.data_dir = data_dir

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedPostgres:
        """Start (or join) the server of ``data_dir`` and make sure the application database exists. Blocking."""
        data_dir.mkdir(parents=True, exist_ok=True)
        # cleanup_mode="stop": the server stops when the last process using it exits; the data stays.
        server = pgserver.get_server(  # type: ignore[attr-defined]
            data_dir, cleanup_mode="stop"
        )
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")  # noqa: S608 (a constant)
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE};")
        return cls(server, data_dir)

    @property
    def dsn(self) -> str:
        uri: str = self._server.get_uri(DATABASE)
        return uri

    def stop(self) -> None:
        """Stop the server unless another process still uses it (pgserver counts its users). Blocking."""
        self._server.cleanup()
