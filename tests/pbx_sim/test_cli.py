"""``callcenter pbx-sim`` as an operator starts it: it says where it listens and answers AMI there."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from tests.pbx_sim.amiclient import BANNER, RawClient

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_pbx_sim_command(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callcenter.cli", "pbx-sim", "--port", str(port), "--speed", "10",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert f"AMI on 127.0.0.1:{port}" in line and "speed 10x" in line
        client = await RawClient.connect(port)
        assert client.banner == BANNER
        await client.login()
        pong = await client.action(("Action", "Ping"), ("ActionID", "p"))
        assert pong.get("Ping") == "Pong"
        await client.close()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
