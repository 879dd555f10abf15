"""MixMonitor writes real WAV files: 8 kHz 16-bit PCM, as long as the call was bridged, with speech-like audio,
silences and some talk-over; stereo (option D) has the caller left and the agent right, r()/t() each alone."""

from __future__ import annotations

import asyncio
import math
import struct
import time
import wave
from pathlib import Path

from pbx_sim.core import audio
from tests.pbx_sim.test_queues import _phone, _queue, call, until, world

RECORDING = """
[[dialplan]]
context = "to-queue"
exten = "rec"
steps = ["Answer()", "MixMonitor(${UNIQUEID}.wav,b)",
         "MixMonitor(${UNIQUEID}-stereo.wav,bDr(${UNIQUEID}-caller.wav)t(${UNIQUEID}-agent.wav))",
         "Queue(q,t,,,60)", "Hangup()"]
"""
WINDOW = audio.RATE // 10  # 100 ms


def _read(path: Path) -> tuple[wave._wave_params, list[int]]:
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        data = wav.readframes(params.nframes)
    return params, list(struct.unpack(f"<{len(data) // 2}h", data))


def _levels(samples: list[int]) -> list[float]:
    """RMS of each 100 ms window."""
    return [
        math.sqrt(sum(x * x for x in samples[i : i + WINDOW]) / WINDOW)
        for i in range(0, len(samples) - WINDOW + 1, WINDOW)
    ]


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else -1


async def _written(path: Path, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while _size(path) <= 44:
        assert time.monotonic() < deadline, f"{path} was not written"
        await asyncio.sleep(0.02)


async def test_recordings_are_real_wav_files_of_the_bridged_call(tmp_path: Path) -> None:
    text = RECORDING + _phone("agent1", ring=1, talk=30) + _queue("rrmemory", 1)
    async with world(text, tmp_path) as (_, client):
        call(client, 1, exten="rec")
        connect = await until(client, "AgentConnect", 1)
        complete = await until(client, "AgentComplete", 1, within=10)
        uid = connect.get("Uniqueid")
        for suffix in ("", "-stereo", "-caller", "-agent"):
            await _written(tmp_path / f"{uid}{suffix}.wav")
        starts = [m for m in client.messages if m.event == "MixMonitorStart"]
        assert len(starts) == 2 and {m.get("Channel") for m in starts} == {connect.get("Channel")}

    bridged = float(complete.get("Timestamp")) - float(connect.get("Timestamp"))
    params, mono = _read(tmp_path / f"{uid}.wav")
    assert (params.nchannels, params.sampwidth, params.framerate, params.comptype) == (1, 2, 8000, "NONE")
    assert abs(params.nframes / 8000 - bridged) < 0.3, (params.nframes / 8000, bridged)
    levels = _levels(mono)
    speech = sum(1 for v in levels if v > 800) / len(levels)
    silence = sum(1 for v in levels if v < 100) / len(levels)
    assert speech > 0.3 and silence > 0.1, (speech, silence)
    assert max(abs(x) for x in mono) < 32767  # no clipping

    stereo_params, stereo = _read(tmp_path / f"{uid}-stereo.wav")
    assert (stereo_params.nchannels, stereo_params.framerate) == (2, 8000)
    assert abs(stereo_params.nframes - params.nframes) < 80  # the same bridged time, to a few milliseconds
    left, right = stereo[0::2], stereo[1::2]
    assert left != right
    assert _read(tmp_path / f"{uid}-caller.wav")[1] == left
    assert _read(tmp_path / f"{uid}-agent.wav")[1] == right
    caller, agent = _levels(left), _levels(right)
    assert sum(1 for v in caller if v > 800) > 20 and sum(1 for v in agent if v > 800) > 20  # both parties talk
    talk_over = sum(1 for a, b in zip(caller, agent, strict=True) if a > 800 and b > 800)
    assert talk_over >= 2  # now and then both at once
    turns = sum(1 for a, b in zip(caller, agent, strict=True) if (a > 800) != (b > 800))
    assert turns > talk_over * 3  # but mostly one at a time


async def test_a_call_never_bridged_leaves_a_header_only_file(tmp_path: Path) -> None:
    text = _phone("agent1") + _queue("rrmemory", 1) + RECORDING
    async with world(text, tmp_path) as (_, client):
        await client.action(("Action", "QueuePause"), ("ActionID", "p"), ("Interface", "Local/agent1@sim-agents/n"),
                            ("Paused", "true"))  # fmt: skip
        call(client, 1, "__TALK=2", exten="rec")
        abandon = await until(client, "QueueCallerAbandon", 1)
        path = tmp_path / f"{abandon.get('Uniqueid')}.wav"
        await asyncio.sleep(0.2)
        assert _size(path) == 44  # MixMonitor ,b: no bridge, no frames


def test_speech_is_deterministic_from_the_seed() -> None:
    one, spurts = audio.synthesize("7:Local/x@y-00000000;1", 60)
    two, again = audio.synthesize("7:Local/x@y-00000000;1", 60)
    other, _ = audio.synthesize("8:Local/x@y-00000000;1", 60)
    assert one.a == two.a and one.b == two.b and spurts == again
    assert one.a != other.a
    assert len(one.a) == len(one.b) == 60 * 8000
    assert all(0 <= start < end <= 60 for party in spurts for start, end in party)
    assert audio.overlap(*spurts)  # talk-over
