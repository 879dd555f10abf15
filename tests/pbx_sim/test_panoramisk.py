"""panoramisk 1.4, the AMI library of dialer/ami, talks to the simulator exactly as to Asterisk."""

from __future__ import annotations

import asyncio

from panoramisk import Manager

from pbx_sim.app import PbxSim


async def test_panoramisk_login_ping_originate(sim: PbxSim) -> None:
    events: asyncio.Queue[object] = asyncio.Queue()
    manager = Manager(
        host="127.0.0.1",
        port=sim.port,
        username="dialer",
        secret="dialer",
        ping_delay=3600,  # no background Ping during the test
        reconnect_timeout=3600,
        loop=asyncio.get_running_loop(),
    )
    # panoramisk drops the tasks of coroutine callbacks: a plain function that only enqueues (STYLE.md).
    manager.register_event("*", lambda _manager, event: events.put_nowait(event))
    try:
        await asyncio.wait_for(manager.connect(), 5)
        for _ in range(100):
            if manager.authenticated:
                break
            await asyncio.sleep(0.02)
        assert manager.authenticated
        assert manager.protocol.version == "11.0.0"

        pong = await asyncio.wait_for(manager.send_action({"Action": "Ping"}), 5)
        assert pong.success and pong.ping == "Pong" and pong.timestamp

        replies = await asyncio.wait_for(
            manager.send_action(
                {
                    "Action": "Originate",
                    "Channel": "Local/5551234@outbound",
                    "Context": "fixture",
                    "Exten": "playtone",
                    "Priority": "1",
                    "CallerID": '"Dialer" <5550000>',
                    "Timeout": "30000",
                    "Async": "true",
                    "Variable": ["CAMPAIGN=fixture", "LEADID=42"],
                }
            ),
            5,
        )
        # As against Asterisk: the future holds the queued response and the OriginateResponse (same ActionID).
        queued, response = replies
        assert queued.response == "Success" and queued.message == "Originate successfully queued"
        assert response.event == "OriginateResponse" and response.response == "Success" and response.reason == "4"
        assert response.channel == "Local/5551234@outbound-00000000;1"

        seen: list[str] = []
        while "Hangup" not in seen or seen.count("Hangup") < 4:
            event = await asyncio.wait_for(events.get(), 5)
            seen.append(event.event)  # type: ignore[attr-defined]
        assert seen[:2] == ["FullyBooted", "SuccessfulAuth"]
        assert {"Newchannel", "DialBegin", "BridgeEnter", "Cdr"} <= set(seen)
        assert "OriginateResponse" not in seen  # panoramisk routes it to the action by its ActionID
    finally:
        manager.close()
