"""Data pool pages (seed 001 "Data havuzu", "Data kayıtlarına erişim"): the pools with their record counts, a pool's
settings, importing a CSV or XLSX file in two steps (upload, then map its columns) with the import's report, the
history of uploaded files with their download, and distributing a pool's unassigned records to agents or teams.

Viewing needs ``pools.view`` (team leaders have it); every change needs ``pools.manage``. The pages live in
``pool_pages`` (list, new pool, a pool's page), ``import_pages`` (upload, mapping, report, download) and
``distribute_pages``; ``common`` holds what they share."""

from __future__ import annotations

from aiohttp import web

from agent_console.keys import BUS, DB
from agent_console.pools.common import POOLS, UPLOADS
from agent_console.pools.distribute_pages import distribute, distribute_form
from agent_console.pools.import_pages import (
    cancel_import,
    download,
    mapping_form,
    report_csv,
    report_page,
    run_import,
    upload,
)
from agent_console.pools.pool_pages import create_pool, list_pools, new_pool_form, pool_page, update_pool
from agent_console.pools.uploads import UploadStore, default_directory
from dialer.pools.service import PoolService


def setup(app: web.Application) -> None:
    """The pool pages' service, upload store and routes (after the database and the bus are in ``app``)."""
    app[POOLS] = PoolService(app[DB], app[BUS])
    app[UPLOADS] = UploadStore(default_directory())
    app.router.add_routes(routes())


def routes() -> list[web.RouteDef]:
    pool = r"/pools/{id:\d+}"
    one_import = pool + r"/imports/{import_id:\d+}"
    staged = pool + r"/import/{token:[A-Za-z0-9_-]+}"
    return [
        web.get("/pools", list_pools),
        web.get("/pools/new", new_pool_form),
        web.post("/pools/new", create_pool),
        web.get(pool, pool_page),
        web.post(pool, update_pool),
        web.post(pool + "/upload", upload),
        web.get(staged, mapping_form),
        web.post(staged, run_import),
        web.post(staged + "/cancel", cancel_import),
        web.get(one_import, report_page),
        web.get(one_import + "/report.csv", report_csv),
        web.get(one_import + "/file", download),
        web.get(pool + "/distribute", distribute_form),
        web.post(pool + "/distribute", distribute),
    ]
