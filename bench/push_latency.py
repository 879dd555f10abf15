"""Benchmark of the live channel: N browsers on one server process while the PBX simulator runs calls.

1. Creates a scratch database with a team of ``--agents`` agents (extensions agent1 ... agentN, all logged in to
   the dialer and ready) and one supervisor, and a session for each client (as a login would).
2. Starts the PBX simulator (``callcenter pbx-sim``, its own process) with a world whose customers call a queue of
   those agents (``--rate`` calls per hour of simulated time, ``--speed`` times real time).
3. Starts one server process: the web application with the live channel and the dialer (the AMI engine turns the
   simulator's AMI events into call and agent events on the in-process bus); a helper in that process ends each
   agent's wrap-up after a second, so the agents keep taking calls.
4. Connects ``--clients`` WebSocket clients (the ``websockets`` library) as the supervisor, who receives every
   event, plus one stalled client that never reads after its hello (a raw socket with a small receive buffer).
5. After ``--seconds``, prints the delivery latency (event published on the bus -> client received) p50/p99,
   messages per second delivered, the server's resident memory and what became of the stalled client.

    .venv/bin/python bench/push_latency.py [--clients 50] [--seconds 30] [--agents 20] [--speed 20]
    .venv/bin/python bench/push_latency.py --clients 1000          # the issue's figure

Needs the PostgreSQL of CALLCENTER_TEST_DATABASE_URL (default: the local one, as the tests); the scratch database
is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import socket
import statistics
import struct
import sys
import tempfile
import time
import uuid
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("CALLCENTER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "bench-parola-1"  # noqa: S105 (the scratch database's users)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def world(agents: int, rate: float) -> str:
    """The built-in world plus a queue of the bench agents and customers calling it."""
    base = (ROOT / "pbx_sim" / "default_world.toml").read_text(encoding="utf-8")
    members = ",\n".join(f'    "Local/agent{i}@sim-agents/n,0,Agent {i}"' for i in range(1, agents + 1))
    return f"""{base}

[[queue]]
name = "bench"
strategy = "leastrecent"
timeout = 15
retry = 1
members = [
{members}
]

[[inbound]]
context = "to-queue"
exten = "bench"
rate = {rate}
number = "05XXXXXXXXX"
patience = [30, 120]
talk = [20, 90]

[[dialplan]]
context = "to-queue"
exten = "bench"
steps = ["NoOp(bench call)", "Answer()", "Queue(bench,t,,,60)", "Hangup()"]
"""


# --- the database ------------------------------------------------------------------------------------------------


async def create_database() -> str:
    from callcenter.db.migrate import migrate

    name = f"callcenter_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = ADMIN_URL.rpartition("/")[0] + "/" + name
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


async def drop_database(url: str) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
    finally:
        await admin.close()


async def seed(url: str, agents: int, clients: int) -> list[str]:
    """The team, its agents (ready), the supervisor; returns one session token per client (and one spare)."""
    import ipaddress
    from datetime import timedelta

    from agent_console.auth.sessions import SessionStore
    from callcenter.bus.memory import InProcessBus
    from callcenter.db.database import Database, init_connection
    from crm_core.audit.repository import SYSTEM
    from crm_core.users.model import Role
    from crm_core.users.service import UserService
    from dialer.agents.service import AgentStateService
    from dialer.state.agent_commands import LogIn

    pool = await asyncpg.create_pool(url, min_size=1, max_size=4, init=init_connection)
    db = Database(pool)
    bus = InProcessBus()
    try:
        users = UserService(db, bus)
        team = await users.create_team(SYSTEM, "Bench")
        states = AgentStateService(db, bus)
        for i in range(1, agents + 1):
            agent = await users.create_user(
                SYSTEM,
                username=f"bench{i}",
                full_name=f"Bench Agent {i}",
                role=Role.AGENT,
                password=PASSWORD,
                team_id=team.id,
                extension=f"agent{i}",
            )
            await states.execute(agent.id, LogIn(ready=True))
        chief = await users.create_user(
            SYSTEM, username="benchsef", full_name="Bench Şef", role=Role.SUPERVISOR, password=PASSWORD
        )
        sessions = SessionStore(db, timedelta(hours=2))
        ip = ipaddress.ip_address("127.0.0.1")
        return [(await sessions.create(chief, ip, "bench"))[0] for _ in range(clients + 1)]
    finally:
        await bus.close()
        await db.close()


# --- the server process (--serve) --------------------------------------------------------------------------------


async def serve() -> None:
    """The web app and the dialer in this process, with a helper ending wrap-ups after a second."""
    from aiohttp import web

    from agent_console.app import create_app
    from callcenter.bootstrap import start_dialer, start_platform
    from callcenter.logging import configure_logging
    from config.settings import load_settings
    from dialer.state.agent import AgentStatus
    from dialer.state.agent_commands import FinishWrapUp, GoReady

    settings = load_settings()
    configure_logging(settings.log)
    platform = await start_platform(settings)
    dialer = await start_dialer(platform)

    async def back_to_work() -> None:
        """Agents end their wrap-up after a second and come back from the dialer's automatic pauses."""
        while True:
            await asyncio.sleep(1.0)
            with contextlib.suppress(Exception):
                async with platform.db.acquire() as conn:
                    rows = await conn.fetch(
                        "SELECT user_id, state, call_id FROM agent_states WHERE state IN ('wrap_up', 'paused')"
                    )
                for row in rows:
                    agent = await dialer.agents.state(row["user_id"])
                    if agent.status is AgentStatus.WRAP_UP:
                        await dialer.agents.execute(row["user_id"], FinishWrapUp(row["call_id"]))
                    elif agent.status is AgentStatus.PAUSED:
                        await dialer.agents.execute(row["user_id"], GoReady())

    helper = asyncio.create_task(back_to_work())
    runner = web.AppRunner(create_app(settings, platform.db, platform.bus, platform.metrics), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.web.host, settings.web.port).start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        helper.cancel()
        await runner.cleanup()
        await dialer.close()
        await platform.close()


# --- the clients -------------------------------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.messages = 0
        self.events = 0
        self.closed: dict[int, int] = {}
        self.gaps = 0


async def client(url: str, origin: str, token: str, stats: Stats, stop: asyncio.Event) -> None:
    import websockets

    last: dict[str, int] = {}
    async with websockets.connect(
        url,
        additional_headers={"Cookie": f"cc_session={token}"},
        origin=origin,
        max_size=2**22,  # type: ignore[arg-type]
    ) as ws:
        await ws.send(json.dumps({"hello": {}}))
        receiving = asyncio.ensure_future(_receive(ws, stats, last))
        await stop.wait()
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await receiving


async def _receive(ws: Any, stats: Stats, last: dict[str, int]) -> None:
    try:
        async for raw in ws:
            now = time.time()
            stats.messages += 1
            message = json.loads(raw)
            if message["type"] == "event":
                stats.events += 1
                stats.latencies.append(now - datetime.fromisoformat(message["published_at"]).timestamp())
                if message["prev"] != last.get(message["stream"], 0):
                    stats.gaps += 1
                last[message["stream"]] = message["seq"]
            elif message["type"] in ("snapshot", "position"):
                last.update(message["seqs"])
    except Exception:  # noqa: S110 (a closed socket ends the count)
        pass
    code = ws.close_code or 0
    stats.closed[code] = stats.closed.get(code, 0) + 1


async def stalled_client(port: int, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Handshake, hello, and then never read (a receive buffer of 4 KB fills at once)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=2**24)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
            f"Cookie: cc_session={token}\r\n\r\n"
        ).encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    payload = json.dumps({"hello": {}}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    await writer.drain()
    return reader, writer


async def close_code_of(reader: asyncio.StreamReader) -> int | None:
    """Read the stalled client's backlog to the end; the close code the server sent, if any."""
    try:
        while True:
            head = await asyncio.wait_for(reader.readexactly(2), 30)
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", await reader.readexactly(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", await reader.readexactly(8))[0]
            body = await reader.readexactly(length)
            if opcode == 0x8:
                return int(struct.unpack("!H", body[:2])[0]) if len(body) >= 2 else None
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def wait_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port}")


async def wait_http(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.0\r\n\r\n")
            await writer.drain()
            line = await reader.readline()
            writer.close()
            if b" 200 " in line or b" 503 " in line:
                return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError(f"the server on port {port} did not answer")


async def run(args: argparse.Namespace) -> None:
    from callcenter.logging import configure_logging
    from config.settings import LogSettings

    configure_logging(LogSettings(level="WARNING"))
    print(f"database: creating; {args.agents} agents, {args.clients} clients", flush=True)
    url = await create_database()
    processes: list[asyncio.subprocess.Process] = []
    try:
        tokens = await seed(url, args.agents, args.clients)
        ami_port, web_port = free_port(), free_port()
        tmp = Path(tempfile.mkdtemp(prefix="push-bench-"))
        (tmp / "world.toml").write_text(world(args.agents, args.rate), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
        env |= {
            "CALLCENTER_DATABASE__URL": url,
            "CALLCENTER_AMI__PORT": str(ami_port),
            "CALLCENTER_PBX_SIM__PORT": str(ami_port),
            "CALLCENTER_PBX_SIM__WORLD": str(tmp / "world.toml"),
            "CALLCENTER_PBX_SIM__SPEED": str(args.speed),
            "CALLCENTER_PBX_SIM__RECORDINGS_DIR": str(tmp / "monitor"),
            "CALLCENTER_WEB__PORT": str(web_port),
            "CALLCENTER_WEB__COOKIE_SECURE": "false",
            "CALLCENTER_LOG__LEVEL": "WARNING",
        }
        env.setdefault("PYTHONWARNINGS", "ignore::UserWarning")  # platformdirs: no XDG_RUNTIME_DIR here
        cli = str(Path(sys.executable).parent / "callcenter")
        processes.append(await asyncio.create_subprocess_exec(cli, "pbx-sim", cwd=tmp, env=env))
        await wait_port(ami_port)
        server = await asyncio.create_subprocess_exec(sys.executable, __file__, "--serve", cwd=ROOT, env=env)
        processes.append(server)
        await wait_http(web_port)
        print(f"server pid {server.pid} on port {web_port}; RSS before clients {rss_mb(server.pid):.0f} MB", flush=True)

        stats, stop = Stats(), asyncio.Event()
        origin = f"http://127.0.0.1:{web_port}"
        stalled_reader, stalled_writer = await stalled_client(web_port, tokens[-1])
        tasks = []
        for token in tokens[: args.clients]:
            tasks.append(asyncio.create_task(client(f"ws://127.0.0.1:{web_port}/live", origin, token, stats, stop)))
            await asyncio.sleep(0.002)
        await asyncio.sleep(1)
        print(
            f"{args.clients} clients connected; RSS {rss_mb(server.pid):.0f} MB; measuring {args.seconds} s", flush=True
        )
        stats.latencies.clear()
        start_events, started = stats.messages, time.monotonic()
        server_cpu, bench_cpu = cpu_seconds(server.pid), time.process_time()
        peak = 0.0
        for _ in range(int(args.seconds)):
            await asyncio.sleep(1)
            peak = max(peak, rss_mb(server.pid))
        elapsed = time.monotonic() - started
        server_cpu = (cpu_seconds(server.pid) - server_cpu) / elapsed * 100
        bench_cpu = (time.process_time() - bench_cpu) / elapsed * 100
        delivered = stats.messages - start_events
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        stalled_code = await close_code_of(stalled_reader)
        stalled_writer.close()

        lat = sorted(stats.latencies)
        print()
        print(f"clients                    {args.clients} (+1 stalled)")
        print(f"events delivered           {len(lat)} in {elapsed:.1f} s ({delivered / elapsed:,.0f} messages/s)")
        if lat:
            p50 = statistics.median(lat) * 1000
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
            print(f"latency published->client p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lat[-1] * 1000:.1f} ms")
        print(f"gaps seen by clients       {stats.gaps}")
        print(f"server RSS                 peak {peak:.0f} MB")
        print(
            f"CPU                        server {server_cpu:.0f}% of a core, these clients {bench_cpu:.0f}%"
            f" (of {os.cpu_count()} cores)"
        )
        closed = {code: n for code, n in stats.closed.items() if code not in (0, 1000)}
        print(f"clients closed by server   {closed or 'none'}")
        if stalled_code == 4408:
            print("stalled client             cut off with 4408 (too slow: resync)")
        elif stalled_code == 4504:
            print("stalled client             cut off with 4504 (it answered no ping before its queue filled)")
        else:
            print(
                f"stalled client             not cut off in {args.seconds} s (close code {stalled_code});"
                " its socket buffers had not filled yet"
            )
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
        await drop_database(url)


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--rate", type=float, default=3600, help="inbound calls per simulated hour")
    parser.add_argument("--speed", type=float, default=20, help="simulator clock speed")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve())
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
