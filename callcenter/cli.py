"""The ``callcenter`` command: demo, serve, migrate, user add, team add."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from callcenter.bootstrap import DialerRuntime, Platform, start_dialer, start_platform
from callcenter.db.database import DatabaseUnavailableError
from callcenter.db.migrate import MigrationError, migrate
from callcenter.logging import configure_logging
from config.settings import Settings, SettingsError, load_settings
from crm_core.audit.repository import Actor
from crm_core.users.model import LoginRule, Role, parse_networks
from crm_core.users.repository import TeamRepository, UserRepository
from crm_core.users.service import InvalidInputError, UserService

log = structlog.get_logger("callcenter")

CLI_ACTOR = Actor(None, "cli")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log)
    try:
        result: int = asyncio.run(args.run(settings, args))
        return result
    except (DatabaseUnavailableError, MigrationError) as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcenter", description="Open-source call-center platform.")
    parser.add_argument("--config", help="settings file (default: ./callcenter.toml or $CALLCENTER_CONFIG)")
    sub = parser.add_subparsers(dest="command")

    demo = sub.add_parser("demo", help="run the whole product on this machine with demo data")
    demo.add_argument("--host", help="address to listen on (default: web.host)")
    demo.add_argument("--port", type=int, help="port to listen on (default: web.port)")
    demo.set_defaults(run=_demo)

    serve = sub.add_parser("serve", help="run the web application")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=_serve)

    pbx = sub.add_parser("pbx-sim", help="run the PBX simulator (AMI like Asterisk 22)")
    pbx.add_argument("--port", dest="sim_port", type=int, help="AMI port (default: pbx_sim.port, 5038)")
    pbx.add_argument("--speed", dest="sim_speed", type=float, help="clock speed factor (default: pbx_sim.speed)")
    pbx.add_argument("--world", dest="sim_world", help="world TOML file (default: pbx_sim.world, else built-in)")
    pbx.set_defaults(run=_pbx_sim)

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.set_defaults(run=_migrate)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="full name")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    add.add_argument("--team", help="team name")
    add.add_argument("--language", choices=["tr", "en"], default="tr")
    add.add_argument(
        "--allow-ip",
        action="append",
        default=[],
        metavar="CIDR",
        help="sign in only from this address or network (repeatable); default: any address",
    )
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input instead of a prompt"
    )
    add.set_defaults(run=_user_add)

    team = sub.add_parser("team", help="manage teams").add_subparsers(dest="team_command", required=True)
    tadd = team.add_parser("add", help="add a team")
    tadd.add_argument("name")
    tadd.add_argument("--leader", help="user name of the team leader")
    tadd.set_defaults(run=_team_add)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """The one place a command's settings are loaded; command-line options win over file and environment."""
    base = load_settings(args.config)
    overrides: dict[str, Any] = {}
    web = {k: v for k in ("host", "port") if (v := getattr(args, k, None))}
    if web:
        overrides["web"] = {**base.web.model_dump(), **web}
    sim = {k: v for k in ("port", "speed", "world") if (v := getattr(args, f"sim_{k}", None)) is not None}
    if sim:
        overrides["pbx_sim"] = {**base.pbx_sim.model_dump(), **sim}
    if args.command == "demo" and base.database.url is None:
        # The demo keeps its data apart from a real embedded installation's.
        overrides["database"] = {
            **base.database.model_dump(),
            "embedded_dir": Path(base.database.embedded_dir).parent / "demo-pgdata",
        }
    return load_settings(args.config, **overrides) if overrides else base


async def _run_web(platform: Platform, dialer: DialerRuntime | None = None) -> None:
    from agent_console.app import create_app

    settings = platform.settings
    app = create_app(settings, platform.db, platform.bus, platform.metrics, dialer)
    runner = web.AppRunner(app, access_log=structlog.stdlib.get_logger("access"))
    await runner.setup()
    site = web.TCPSite(runner, settings.web.host, settings.web.port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log.info("web_listening", url=f"http://{settings.web.host}:{settings.web.port}")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def _serve(settings: Settings, args: argparse.Namespace) -> int:
    platform = await start_platform(settings)
    try:
        dialer = await start_dialer(platform)
        try:
            await _run_web(platform, dialer)
        finally:
            await dialer.close()
    finally:
        await platform.close()
    return 0


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.demo import DEMO_PASSWORD, seed_demo
    from pbx_sim.app import running_pbx_sim

    platform = await start_platform(settings)
    try:
        logins = await seed_demo(platform.db, platform.bus)
        async with contextlib.AsyncExitStack() as stack:
            sim = settings.pbx_sim
            try:
                await stack.enter_async_context(running_pbx_sim(sim))
                pbx_line = f"  PBX simülatörü / PBX simulator: AMI {sim.host}:{sim.port}"
            except OSError as exc:
                pbx_line = f"  PBX simülatörü başlatılamadı / PBX simulator not started ({sim.host}:{sim.port}): {exc}"
            url = f"http://{settings.web.host}:{settings.web.port}"
            lines = [
                "",
                f"  Çağrı merkezi demo çalışıyor / call center demo running: {url}",
                pbx_line,
                f"  Demo girişleri / demo logins (parola / password: {DEMO_PASSWORD}):",
                *(f"    {d.username:<12} {d.full_name:<20} {d.role.value}" for d in logins),
                "  Durdurmak için / to stop: Ctrl+C",
                "",
            ]
            print("\n".join(lines), flush=True)
            dialer = await start_dialer(platform)
            stack.push_async_callback(dialer.close)
            await _run_web(platform, dialer)
    finally:
        await platform.close()
    return 0


async def _pbx_sim(settings: Settings, args: argparse.Namespace) -> int:
    from pbx_sim.app import PbxSim, serve_pbx_sim
    from pbx_sim.world import WorldError

    def ready(sim: PbxSim) -> None:
        world = settings.pbx_sim.world or "built-in"
        print(f"PBX simulator: AMI on {sim.host}:{sim.port} (speed {sim.clock.speed:g}x, world {world})", flush=True)

    try:
        await serve_pbx_sim(settings, on_ready=ready)
    except WorldError as exc:
        print(f"callcenter: pbx-sim world: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{settings.pbx_sim.host}:{settings.pbx_sim.port}"
        print(f"callcenter: pbx-sim cannot listen on {where}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.db.database import connect

    db = await connect(settings.database)
    try:
        async with db.acquire() as conn:
            applied = await migrate(conn)
    finally:
        await db.close()
    if applied:
        for mig in applied:
            print(f"applied {mig.version:04d}_{mig.name}")
    else:
        print("database is up to date")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Parola / password: ")
    if getpass.getpass("Tekrar / again: ") != first:
        raise InvalidInputError("password", "passwords do not match")
    return first


async def _user_add(settings: Settings, args: argparse.Namespace) -> int:
    try:
        networks = parse_networks(args.allow_ip)
    except ValueError as exc:
        print(f"callcenter: --allow-ip: not an IP address or network: {exc}", file=sys.stderr)
        return 2
    password = os.environ.pop("CALLCENTER_NEW_PASSWORD", None) or _read_password(args)
    platform = await start_platform(settings)
    try:
        team_id = None
        if args.team:
            async with platform.db.acquire() as conn:
                team = await TeamRepository(conn).by_name(args.team)
            if team is None:
                print(f"callcenter: no team named {args.team!r}", file=sys.stderr)
                return 2
            team_id = team.id
        user = await UserService(platform.db, platform.bus).create_user(
            CLI_ACTOR,
            username=args.username,
            full_name=args.name,
            role=Role(args.role),
            password=password,
            team_id=team_id,
            login_rule=LoginRule.NETWORKS if networks else LoginRule.ANY,
            allowed_networks=networks,
            language=args.language,
        )
    except InvalidInputError as exc:
        print(f"callcenter: {exc.field}: {exc.code}", file=sys.stderr)
        return 2
    finally:
        await platform.close()
    print(f"user {user.username} added (id {user.id}, role {user.role.value})")
    return 0


async def _team_add(settings: Settings, args: argparse.Namespace) -> int:
    platform = await start_platform(settings)
    try:
        leader_id = None
        if args.leader:
            async with platform.db.acquire() as conn:
                leader = await UserRepository(conn).by_username(args.leader)
            if leader is None:
                print(f"callcenter: no user named {args.leader!r}", file=sys.stderr)
                return 2
            leader_id = leader.id
        team = await UserService(platform.db, platform.bus).create_team(CLI_ACTOR, args.name, leader_id)
    except InvalidInputError as exc:
        print(f"callcenter: {exc.field}: {exc.code}", file=sys.stderr)
        return 2
    finally:
        await platform.close()
    print(f"team {team.name} added (id {team.id})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
