"""AMI queue actions: QueueAdd, QueueRemove, QueuePause, QueueStatus, QueueSummary (app_queue's manager_*).

Wording, field order and list shapes as in ami-queue-member-ops: list entries carry neither Privilege nor
Timestamp and end with the ActionID; QueueStatus entries say ``Name``/``Location`` where the member events say
``MemberName``/``Interface``, and QueueParams says ``Holdtime`` where QueueSummary says ``HoldTime``. There is
no QueueUnpause: QueuePause with ``Paused: false``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pbx_sim.ami.protocol import Fields, Message
from pbx_sim.core.queues import NOT_INUSE, Queue
from pbx_sim.world_agents import MemberConfig

if TYPE_CHECKING:
    from pbx_sim.ami.server import AmiSession

TRUE = ("yes", "true", "y", "t", "1", "on")


def _int(text: str, default: int = 0) -> int:
    try:
        return max(0, int(text.strip()))
    except ValueError:
        return default


def _tail(msg: Message) -> Fields:
    return [("ActionID", msg.action_id)] if msg.action_id else []


def _complete(msg: Message, event: str, count: int) -> Fields:
    return [("Event", event), *_tail(msg), ("EventList", "Complete"), ("ListItems", str(count))]


async def action_queueadd(s: AmiSession, msg: Message) -> bool:
    queue, interface = msg.get("Queue"), msg.get("Interface")
    if not queue:
        s.error(msg, "'Queue' not specified.")
        return True
    if not interface:
        s.error(msg, "'Interface' not specified.")
        return True
    paused = msg.get("Paused").lower() in TRUE
    member = MemberConfig(
        interface,
        _int(msg.get("Penalty")),
        msg.get("MemberName") or interface,
        msg.get("StateInterface") or interface,
    )
    result = s.pbx.queues.add(queue, member, paused, msg.get("Reason"))
    if result == "ok":
        s.ack(msg, "Added interface to queue")
    elif result == "exists":
        s.error(msg, "Unable to add interface: Already there")
    else:
        s.error(msg, "Unable to add interface to queue: No such queue")
    return True


async def action_queueremove(s: AmiSession, msg: Message) -> bool:
    queue, interface = msg.get("Queue"), msg.get("Interface")
    if not queue or not interface:
        s.error(msg, "Need 'Queue' and 'Interface' parameters.")
        return True
    result = s.pbx.queues.remove(queue, interface)
    if result == "ok":
        s.ack(msg, "Removed interface from queue")
    elif result == "not-there":
        s.error(msg, "Unable to remove interface: Not there")
    elif result == "not-dynamic":
        s.error(msg, "Member not dynamic")
    else:
        s.error(msg, "Unable to remove interface from queue: No such queue")
    return True


async def action_queuepause(s: AmiSession, msg: Message) -> bool:
    interface, paused_text = msg.get("Interface"), msg.get("Paused")
    if not interface or not paused_text:
        s.error(msg, "Need 'Interface' and 'Paused' parameters.")
        return True
    paused = paused_text.lower() in TRUE
    if not s.pbx.queues.pause(msg.get("Queue"), interface, paused, msg.get("Reason")):
        s.error(msg, "Interface not found")
    else:
        s.ack(msg, "Interface paused successfully" if paused else "Interface unpaused successfully")
    return True


def _wanted(s: AmiSession, msg: Message) -> list[Queue]:
    name = msg.get("Queue")
    return [q for q in s.pbx.queues.ordered() if not name or q.name.lower() == name.lower()]


def _perf(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "0.0"


async def action_queuestatus(s: AmiSession, msg: Message) -> bool:
    s.list_ack(msg, "Queue status will follow")
    member_filter = msg.get("Member")
    now = s.pbx.clock.now()
    items = 0
    for queue in _wanted(s, msg):
        config = queue.config
        in_sl = queue.completed_in_sl + queue.abandoned_in_sl
        s.send_fields(
            [
                ("Event", "QueueParams"),
                ("Queue", queue.name),
                ("Max", str(config.maxlen)),
                ("Strategy", config.strategy),
                ("Calls", str(len(queue.callers))),
                ("Holdtime", str(queue.holdtime)),
                ("TalkTime", str(queue.talktime)),
                ("Completed", str(queue.completed)),
                ("Abandoned", str(queue.abandoned)),
                ("ServiceLevel", str(config.servicelevel)),
                ("ServicelevelPerf", _perf(queue.completed_in_sl, queue.completed)),
                ("ServicelevelPerf2", _perf(in_sl, queue.completed + queue.abandoned)),
                ("Weight", str(config.weight)),
                *_tail(msg),
            ]
        )
        items += 1
        for member in queue.members:
            if member_filter and member_filter not in (member.interface, member.name):
                continue
            s.send_fields([("Event", "QueueMember"), *member.status_fields(queue.name), *_tail(msg)])
            items += 1
        for position, caller in enumerate(queue.callers, start=1):
            chan = caller.chan
            s.send_fields(
                [
                    ("Event", "QueueEntry"),
                    ("Queue", queue.name),
                    ("Position", str(position)),
                    ("Channel", chan.name),
                    ("Uniqueid", chan.uniqueid),
                    ("CallerIDNum", chan.caller_num),
                    ("CallerIDName", chan.caller_name),
                    ("ConnectedLineNum", chan.connected_num),
                    ("ConnectedLineName", chan.connected_name),
                    ("Wait", str(int(now - caller.joined))),
                    ("Priority", "0"),
                    *_tail(msg),
                ]
            )
            items += 1
    s.send_fields(_complete(msg, "QueueStatusComplete", items))
    return True


async def action_queuesummary(s: AmiSession, msg: Message) -> bool:
    s.list_ack(msg, "Queue summary will follow")
    now = s.pbx.clock.now()
    items = 0
    for queue in _wanted(s, msg):
        logged_in = len(queue.members)
        available = sum(1 for m in queue.members if not m.paused and m.status == NOT_INUSE)
        longest = max((int(now - c.joined) for c in queue.callers), default=0)
        s.send_fields(
            [
                ("Event", "QueueSummary"),
                ("Queue", queue.name),
                ("LoggedIn", str(logged_in)),
                ("Available", str(available)),
                ("Callers", str(len(queue.callers))),
                ("HoldTime", str(queue.holdtime)),
                ("TalkTime", str(queue.talktime)),
                ("LongestHoldTime", str(longest)),
                *_tail(msg),
            ]
        )
        items += 1
    s.send_fields(_complete(msg, "QueueSummaryComplete", items))
    return True
