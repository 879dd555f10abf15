"""Benchmark of the PBX simulator: concurrent calls and AMI events per second to one client.

Starts ``callcenter pbx-sim`` as a subprocess pinned to one CPU core, connects one AMI client on a raw socket,
originates N answered calls with long talk times (all up at once), reads every event, checks the peak number of
channels with CoreShowChannels, then hangs every call up with the AMI Hangup action. Prints what it measured:

    .venv/bin/python bench/pbx_sim.py [--calls 500] [--speed 1] [--core 0]

Targets (issue 3): 500 concurrent calls, at least 2,000 AMI events per second to one client, on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORLD = """
[[customer]]
match = "_X."
answer = 1
ring = [1, 3]
talk = 3600

[[dialplan]]
context = "bench"
exten = "talk"
steps = ["NoOp(bench call)", "Answer()", "Wait(3600)", "Hangup()"]
"""


class Counter:
    def __init__(self) -> None:
        self.events = 0
        self.bytes = 0
        self.by_type: dict[str, int] = {}
        self.answered: list[str] = []
        self.responses = 0
        self.live = 0
        self.peak_live = 0
        self.per_second: dict[int, int] = {}
        self.complete: dict[str, dict[str, str]] = {}
        self.started = time.monotonic()

    def feed(self, block: bytes) -> None:
        fields = dict(line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line)
        name = fields.get("Event")
        if name is None:
            self.responses += 1
            return
        self.events += 1
        second = int(time.monotonic() - self.started)
        self.per_second[second] = self.per_second.get(second, 0) + 1
        self.by_type[name] = self.by_type.get(name, 0) + 1
        if name == "Newchannel":
            self.live += 1
            self.peak_live = max(self.peak_live, self.live)
        elif name == "Hangup":
            self.live -= 1
        elif name == "OriginateResponse" and fields.get("Response") == "Success":
            self.answered.append(fields["Channel"])
        elif name.endswith("Complete"):
            self.complete[fields.get("ActionID", "")] = fields


async def reader_loop(reader: asyncio.StreamReader, counter: Counter) -> None:
    buffer = b""
    while True:
        data = await reader.read(1 << 20)
        if not data:
            return
        counter.bytes += len(data)
        buffer += data
        *done, buffer = buffer.split(b"\r\n\r\n")
        for block in done:
            counter.feed(block)


async def until(predicate: object, timeout: float) -> None:  # noqa: ASYNC109 - polls a counter
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the simulator did not get there in time")
        await asyncio.sleep(0.01)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(calls: int, speed: float, core: int) -> int:
    port = free_port()
    world = Path(tempfile.mkdtemp()) / "bench-world.toml"
    world.write_text(WORLD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env["PYTHONPATH"] = str(ROOT)
    env["CALLCENTER_LOG__LEVEL"] = "WARNING"
    cmd = [sys.executable, "-m", "callcenter.cli", "pbx-sim", "--port", str(port), "--speed", str(speed)]
    cmd += ["--world", str(world)]
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measurement
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, preexec_fn=lambda: os.sched_setaffinity(0, {core})
    )
    try:
        assert proc.stdout is not None
        print(proc.stdout.readline().decode().strip())
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        await asyncio.wait_for(reader.readline(), 5)
        counter = Counter()
        task = asyncio.create_task(reader_loop(reader, counter))
        writer.write(b"Action: Login\r\nActionID: login\r\nUsername: dialer\r\nSecret: dialer\r\nEvents: on\r\n\r\n")
        await until(lambda: counter.responses >= 1, 10)
        cpu0, t0, e0 = cpu_seconds(proc.pid), time.monotonic(), counter.events
        for i in range(calls):
            writer.write(
                (
                    f"Action: Originate\r\nActionID: call-{i}\r\nChannel: Local/9{i:07d}@outbound\r\n"
                    f'Context: bench\r\nExten: talk\r\nPriority: 1\r\nCallerID: "Bench" <5550000>\r\n'
                    f"Timeout: 30000\r\nAsync: true\r\nVariable: CAMPAIGN=bench,LEADID={i}\r\n\r\n"
                ).encode()
            )
        await writer.drain()
        await until(lambda: len(counter.answered) >= calls, 120)
        setup_s, setup_events, setup_cpu = time.monotonic() - t0, counter.events - e0, cpu_seconds(proc.pid) - cpu0
        writer.write(b"Action: CoreShowChannels\r\nActionID: peak\r\n\r\n")
        await until(lambda: "peak" in counter.complete, 30)
        listed = int(counter.complete["peak"]["ListItems"])
        cpu1, t1, e1 = cpu_seconds(proc.pid), time.monotonic(), counter.events
        for i, channel in enumerate(counter.answered):
            writer.write(f"Action: Hangup\r\nActionID: hangup-{i}\r\nChannel: {channel}\r\n\r\n".encode())
        await writer.drain()
        await until(lambda: counter.live == 0, 120)
        down_s, down_events, down_cpu = time.monotonic() - t1, counter.events - e1, cpu_seconds(proc.pid) - cpu1
        writer.close()
        task.cancel()

        peak_second = max(counter.per_second.values())
        print(f"calls answered and up at once : {len(counter.answered)} of {calls}")
        print(f"peak concurrent channels      : {listed} (CoreShowChannels), {counter.peak_live} (from events)")
        print(f"set-up   : {setup_events} events in {setup_s:.2f} s = {setup_events / setup_s:,.0f} events/s "
              f"(simulator CPU {setup_cpu:.2f} s)")  # fmt: skip
        print(f"teardown : {down_events} events in {down_s:.2f} s = {down_events / down_s:,.0f} events/s "
              f"(simulator CPU {down_cpu:.2f} s)")  # fmt: skip
        capacity = (setup_events + down_events) / max(setup_cpu + down_cpu, 1e-9)
        print(f"simulator cost: {capacity:,.0f} events per CPU second (set-up + teardown)")
        print(f"busiest second: {peak_second:,} events; total {counter.events:,} events, {counter.bytes / 1e6:.1f} MB")
        print(f"simulator pinned to CPU core {core}; clock speed {speed:g}x")
        ok = listed >= 4 * calls and min(setup_events / setup_s, down_events / down_s) >= 2000
        print("targets (500 calls, >= 2,000 events/s):", "met" if ok and calls >= 500 else "NOT met")
        return 0 if ok else 1
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--core", type=int, default=0)
    args = parser.parse_args()
    return asyncio.run(run(args.calls, args.speed, args.core))


if __name__ == "__main__":
    raise SystemExit(main())
