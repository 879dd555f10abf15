"""The agent console: his state bar (log in, ready, pause with a reason, online but not taking calls, log out) and
preview dialing (choose a campaign, take the next record, dial or skip it, set the call's disposition).

Every write is a POST with the session's CSRF token. The page's script asks for JSON (``Accept:
application/json``) and shows refusals in the user's language; the state bar's buttons also work as plain form
posts (the page comes back with the message). The state shown is always the pushed one (``static/live.js``), and
so is the call's progress: nothing here is polled.

Preview needs the process's campaign dialer (``agent_console.keys.DIALER``); without it the page says dialing is
not available and the preview endpoints answer 503.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from agent_console.console.preview import local_time, record_view
from agent_console.i18n import Translator
from agent_console.keys import BUS, CATALOGUE, DB, DIALER, SETTINGS
from agent_console.live.labels import client_labels
from agent_console.web import render, requires, session_of, translator
from callcenter.bootstrap import DialerRuntime
from callcenter.bus.events import utc_now
from crm_core.users.model import User
from crm_core.users.repository import TeamRepository
from crm_core.users.service import NotFoundError
from dialer.agents.service import AgentStateService, UnknownAgentError
from dialer.callbacks.model import MissedCall, MissedStatus
from dialer.callbacks.service import CallbackService, MissedCallService
from dialer.campaigns.dialer import DialRefusedError
from dialer.campaigns.model import Campaign, DialMode
from dialer.campaigns.repository import CallRecordRepository, DialRecords
from dialer.campaigns.service import DispositionRefusedError
from dialer.state.agent import AgentStatus, IllegalAgentTransitionError
from dialer.state.agent_commands import AgentCommand, GoOnlineNotTaking, GoReady, LogIn, LogOut, Pause
from dialer.state.reasons import PauseReasons, UnknownPauseReasonError

MAX_ID = 2**63 - 1
_STATE_ACTIONS = ("login", "ready", "pause", "online", "logout")
#: Keyboard shortcuts (Alt + key) the page lists and console.js handles.
SHORTCUTS = (
    ("R", "console.keys.ready"),
    ("P", "console.keys.pause"),
    ("N", "console.keys.next"),
    ("D", "console.keys.dial"),
    ("G", "console.keys.skip"),
    ("S", "console.keys.dispose"),
)


class ConsoleRefusedError(Exception):
    """A console action refused; ``code`` is the catalogue key of the reason."""

    def __init__(self, code: str, status: int = 409) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def _runtime(request: web.Request) -> DialerRuntime | None:
    return request.app.get(DIALER)


def _agents(request: web.Request) -> AgentStateService:
    runtime = _runtime(request)
    if runtime is not None:
        return runtime.agents
    return AgentStateService(request.app[DB], request.app[BUS])


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _me(request: web.Request) -> User:
    session = session_of(request)
    assert session is not None
    return session.user


def _int(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ConsoleRefusedError("console.error.bad_request", 400) from None
    if not 0 < number <= MAX_ID:
        raise ConsoleRefusedError("console.error.bad_request", 400)
    return number


def _reply(request: web.Request, data: Mapping[str, Any]) -> web.Response:
    response = web.json_response(dict(data))
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(request: web.Request, code: str, status: int = 409) -> web.Response:
    return web.json_response({"error": code, "message": translator(request)(code)}, status=status)


def _selectable(reasons: PauseReasons, language: str) -> list[dict[str, str]]:
    return [{"code": r.code, "label": r.label(language)} for r in reasons.selectable()]


async def _preview_campaigns(request: web.Request, user: User) -> list[Campaign]:
    """The running preview campaigns the agent's team dials."""
    runtime = _runtime(request)
    if runtime is None or user.team_id is None:
        return []
    campaigns = await runtime.dialer.campaigns.list_campaigns()
    return [c for c in campaigns if c.dial_mode is DialMode.PREVIEW and c.running and user.team_id in c.team_ids]


# --- the page -----------------------------------------------------------------------------------------------------


@requires("console.use")
async def console(request: web.Request) -> web.StreamResponse:
    user = _me(request)
    tr = translator(request)
    team = None
    if user.team_id is not None:
        async with request.app[DB].acquire() as conn:
            team = await TeamRepository(conn).get(user.team_id)
    agents = _agents(request)
    message = request.query.get("msg", "")
    known = request.app[CATALOGUE].languages_of(message) and message.startswith(("console.", "error."))
    return render(
        request,
        "console.html",
        {
            "team": team,
            "live_labels": client_labels(tr),
            "reasons": _selectable(agents.rules.reasons, tr.language),
            "dialer_available": _runtime(request) is not None,
            "campaigns": await _preview_campaigns(request, user),
            "shortcuts": SHORTCUTS,
            "message": tr(message) if known else "",
            "message_is_error": request.query.get("ok") != "1",
            "console_labels": _client_labels(tr),
            "current": await _current(request, user),
        },
    )


async def _current(request: web.Request, user: User) -> dict[str, Any] | None:
    """What the agent was doing when the page was (re)loaded: the call still waiting for his disposition (his state
    names it), else the preview record he took and has not dialed yet; with its card, for the page to restore."""
    runtime = _runtime(request)
    if runtime is None:
        return None
    with contextlib.suppress(LookupError):
        state = await runtime.agents.state(user.id)
        async with request.app[DB].acquire() as conn:
            row = None
            if state.call_id:
                row = await conn.fetchrow(
                    """SELECT c.call_id, c.pool_record_id, c.campaign_id, c.status FROM call_records c
                        WHERE c.call_id = $1 AND c.agent_id = $2 AND c.campaign_id IS NOT NULL
                          AND c.pool_record_id IS NOT NULL AND c.disposition IS NULL""",
                    state.call_id,
                    user.id,
                )
            if row is None:
                row = await conn.fetchrow(
                    """SELECT NULL AS call_id, r.id AS pool_record_id, r.campaign_id, NULL AS status
                         FROM pool_records r
                        WHERE r.claimed_by = $1 AND r.status = 'in_progress' AND r.campaign_id IS NOT NULL
                          AND NOT EXISTS (SELECT 1 FROM call_records c
                                           WHERE c.pool_record_id = r.id AND c.status = 'live')
                        ORDER BY r.claimed_at DESC NULLS LAST LIMIT 1""",
                    user.id,
                )
            if row is None:
                return None
            record = await DialRecords(conn).get(row["pool_record_id"])
            history = await CallRecordRepository(conn).of_record(row["pool_record_id"])
        if record is None:
            return None
        dispositions = await runtime.dialer.campaigns.dispositions(row["campaign_id"])
        warning = await CallbackService(request.app[DB], request.app[BUS]).warning(record.id, user.id)
        view = record_view(record, history, dispositions, warning, request.app[SETTINGS].web.zone, translator(request))
        ended = row["status"] not in (None, "live")
        return {**view, "call_id": row["call_id"], "campaign_id": row["campaign_id"], "call_ended": ended}
    return None


def _client_labels(tr: Translator) -> dict[str, str]:
    keys = (
        "progress.dialing", "progress.ringing", "progress.answered", "progress.connected", "progress.ended",
        "progress.failed", "preview.none_left", "preview.skipped", "preview.disposed", "preview.no_history",
        "preview.dialed", "error.network", "statebar.done", "statebar.scheduled", "no_call",
        "cb.take", "cb.release", "cb.dismiss", "cb.waited", "cb.due_at", "cb.misses", "cb.alert", "cb.hours",
        "cb.minutes", "cb.taken_by_me", "cb.dismissed", "cb.released",
    )  # fmt: skip
    return {key: tr(f"console.{key}") for key in keys}


# --- the state bar ------------------------------------------------------------------------------------------------


def _command(action: str, post: Mapping[str, Any]) -> AgentCommand:
    match action:
        case "login":
            return LogIn(ready=post.get("ready") in ("1", "on", "true"))
        case "ready":
            return GoReady()
        case "pause":
            reason = str(post.get("reason", "")).strip()
            if not reason:
                raise ConsoleRefusedError("console.error.reason_needed", 400)
            return Pause(reason)
        case "online":
            return GoOnlineNotTaking()
        case _:
            return LogOut()


async def _undisposed_call(request: web.Request, user_id: int, call_id: str | None) -> bool:
    """Whether ``call_id`` is a campaign call of his still waiting for his disposition."""
    if not call_id:
        return False
    async with request.app[DB].acquire() as conn:
        row = await conn.fetchrow(
            "SELECT campaign_id, disposition FROM call_records WHERE call_id = $1 AND agent_id = $2",
            call_id,
            user_id,
        )
    return row is not None and row["campaign_id"] is not None and row["disposition"] is None


@requires("console.use")
async def change_state(request: web.Request) -> web.StreamResponse:
    action = request.match_info["action"]
    if action not in _STATE_ACTIONS:
        raise web.HTTPNotFound()
    user = _me(request)
    agents = _agents(request)
    post = await request.post()
    try:
        command = _command(action, post)
        if isinstance(command, Pause) and command.reason not in {r.code for r in agents.rules.reasons.selectable()}:
            raise UnknownPauseReasonError(command.reason)  # the dialer's own "auto" pause is not the agent's to take
        before = await agents.state(user.id)
        if (
            isinstance(command, GoReady)
            and before.status is AgentStatus.WRAP_UP
            and await _undisposed_call(request, user.id, before.call_id)
        ):
            raise ConsoleRefusedError("console.error.disposition_first")
        after = await agents.execute(user.id, command)
    except ConsoleRefusedError as refused:
        return _state_refused(request, refused.code, refused.status)
    except UnknownPauseReasonError:
        return _state_refused(request, "console.error.unknown_reason", 400)
    except UnknownAgentError:
        return _state_refused(request, "console.error.bad_request", 400)
    except IllegalAgentTransitionError as illegal:
        code = "console.error.already_logged_in" if isinstance(command, LogIn) else "console.error.log_in_first"
        if illegal.status is not AgentStatus.LOGGED_OUT and not isinstance(command, LogIn):
            code = "console.error.not_now"
        return _state_refused(request, code)
    scheduled = after.next is not None and after.status is before.status and after.has_call
    if _wants_json(request):
        return _reply(
            request,
            {
                "state": after.status.value,
                "reason": after.reason,
                "scheduled": after.next.status.value if scheduled and after.next else None,
            },
        )
    raise web.HTTPSeeOther(
        "/console?ok=1&msg=" + ("console.statebar.scheduled" if scheduled else "console.statebar.done")
    )


def _state_refused(request: web.Request, code: str, status: int = 409) -> web.StreamResponse:
    if _wants_json(request):
        return _refused(request, code, status)
    raise web.HTTPSeeOther(f"/console?msg={code}")


# --- preview ------------------------------------------------------------------------------------------------------


async def _preview(request: web.Request, action: str) -> web.StreamResponse:
    runtime = _runtime(request)
    if runtime is None:
        return _refused(request, "console.error.no_dialer", 503)
    user = _me(request)
    post = await request.post()
    try:
        match action:
            case "next":
                return await _take_next(request, runtime, user, _int(post.get("campaign_id")))
            case "skip":
                await runtime.dialer.skip(user.id, _int(post.get("record_id")), str(post.get("reason", "")))
                return _reply(request, {"skipped": True})
            case "dial":
                call_id = await runtime.dialer.dial(user.id, _int(post.get("record_id")))
                return _reply(request, {"call_id": call_id})
            case _:
                return await _dispose(request, runtime, user, post)
    except ConsoleRefusedError as refused:
        return _refused(request, refused.code, refused.status)
    except (DialRefusedError, DispositionRefusedError) as refused:
        return _refused(request, refused.code)


async def _take_next(request: web.Request, runtime: DialerRuntime, user: User, campaign_id: int) -> web.Response:
    if campaign_id not in {c.id for c in await _preview_campaigns(request, user)}:
        raise ConsoleRefusedError("error.campaign_not_running")
    held = await _current(request, user)
    if held is not None:
        if held["call_id"]:
            raise ConsoleRefusedError("console.error.finish_call_first")
        return _reply(request, held)  # the record he took and has neither dialed nor skipped comes first
    try:
        taken = await runtime.dialer.take_next(user.id, campaign_id)
    except NotFoundError:
        raise ConsoleRefusedError("error.campaign_not_running") from None
    if taken is None:
        return _reply(request, {"record": None})
    record, history = taken
    dispositions = await runtime.dialer.campaigns.dispositions(campaign_id)
    warning = await CallbackService(request.app[DB], request.app[BUS]).warning(record.id, user.id)
    zone = request.app[SETTINGS].web.zone
    return _reply(request, record_view(record, history, dispositions, warning, zone, translator(request)))


async def _dispose(request: web.Request, runtime: DialerRuntime, user: User, post: Mapping[str, Any]) -> web.Response:
    call_id = str(post.get("call_id", "")).strip()
    code = str(post.get("code", "")).strip()
    if not call_id or not code:
        raise ConsoleRefusedError("console.error.disposition_needed", 400)
    callback_at = None
    raw = str(post.get("callback_at", "")).strip()
    if raw:
        try:
            callback_at = datetime.fromisoformat(raw)
        except ValueError:
            raise ConsoleRefusedError("error.callback_time_needed") from None
        if callback_at.tzinfo is None:
            callback_at = callback_at.replace(tzinfo=request.app[SETTINGS].web.zone)
    note = str(post.get("note", ""))[:4000]
    event = await runtime.dialer.dispose(user.id, call_id, code, note=note, callback_at=callback_at)
    state = None
    with contextlib.suppress(LookupError):
        state = (await runtime.agents.state(user.id)).status.value
    return _reply(request, {"disposed": True, "record_status": event.status, "state": state})


@requires("console.use")
async def preview_action(request: web.Request) -> web.StreamResponse:
    action = request.match_info["action"]
    if action not in ("next", "skip", "dial", "dispose"):
        raise web.HTTPNotFound()
    return await _preview(request, action)


# --- the call-back list ("Geri aranacaklar") ----------------------------------------------------------------------


@requires("console.use")
async def current_work(request: web.Request) -> web.StreamResponse:
    """The call or record the agent is on now (``current`` is null when none): what a progressive call brings to his
    screen the moment he is reserved for it, with the record's card, history and the disposition form's choices."""
    return web.json_response({"current": await _current(request, _me(request))})


def _callbacks(request: web.Request) -> tuple[CallbackService, MissedCallService]:
    db, bus = request.app[DB], request.app[BUS]
    return CallbackService(db, bus), MissedCallService(db, bus)


@requires("console.use")
async def callback_list(request: web.Request) -> web.StreamResponse:
    """The agent's list: missed calls and records waiting for a retry (one line per number), his own call-backs
    and those handed on to him; oldest first."""
    user = _me(request)
    tr = translator(request)
    zone = request.app[SETTINGS].web.zone
    callbacks, missed = _callbacks(request)
    taken = {m.id: m.taken_by for m in await missed.live()}
    mine = [cb for cb in await callbacks.list_for(user.id) if cb.owner_id == user.id]
    shown = {cb.id: cb for cb in [*mine, *await callbacks.due_for(user.id)]}
    lines = await missed.list_for(user.id)
    record_ids = [e.pool_record_id for e in lines] + [cb.pool_record_id for cb in shown.values()]
    async with request.app[DB].acquire() as conn:  # the record's name where the call left none
        names: dict[int | None, str] = {
            row["id"]: row["name"] or ""
            for row in await conn.fetch(
                "SELECT id, name FROM pool_records WHERE id = ANY($1::bigint[])", [i for i in record_ids if i]
            )
        }
    entries: list[dict[str, Any]] = [
        {
            "kind": entry.kind.value,
            "kind_label": tr(f"console.cb.kind.{entry.kind.value}"),
            "phone": entry.phone,
            "name": entry.name or names.get(entry.pool_record_id, ""),
            "since": entry.waiting_since.isoformat(),
            "since_text": local_time(entry.waiting_since, zone),
            "misses": entry.misses,
            "note": "",
            "entry_id": entry.missed_call_id,
            "record_id": entry.pool_record_id,
            "mine": entry.missed_call_id is not None and taken.get(entry.missed_call_id) == user.id,
        }
        for entry in lines
    ]
    entries += [
        {
            "kind": "callback",
            "kind_label": tr("console.cb.kind.callback"),
            "phone": cb.phone,
            "name": names.get(cb.pool_record_id, ""),
            "since": cb.due_at.isoformat(),
            "since_text": local_time(cb.due_at, zone),
            "misses": 0,
            "note": cb.note,
            "entry_id": None,
            "record_id": cb.pool_record_id,
            "mine": cb.owner_id == user.id,
        }
        for cb in shown.values()
    ]
    entries.sort(key=lambda e: (e["since"], e["phone"]))
    return _reply(request, {"now": utc_now().isoformat(), "entries": entries})


@requires("console.use")
async def callback_action(request: web.Request) -> web.StreamResponse:
    action = request.match_info["action"]
    if action not in ("take", "release", "dismiss"):
        raise web.HTTPNotFound()
    user = _me(request)
    _callbacks_service, missed = _callbacks(request)
    post = await request.post()
    try:
        entry_id = _int(post.get("entry_id"))
        before = await missed.get(entry_id)
        if before is None or before.status is MissedStatus.CLOSED:
            raise ConsoleRefusedError("console.cb.error.gone")
        if before.taken_by not in (None, user.id):
            raise ConsoleRefusedError("console.cb.error.taken")
        match action:
            case "take":
                return await _take_entry(request, missed, user, before)
            case "release":
                if await missed.release(user.id, entry_id) is None:
                    raise ConsoleRefusedError("console.cb.error.not_taken")
                return _reply(request, {"released": entry_id})
            case _:
                if await missed.dismiss(user.id, entry_id) is None:
                    raise ConsoleRefusedError("console.cb.error.gone")
                return _reply(request, {"dismissed": entry_id})
    except ConsoleRefusedError as refused:
        return _refused(request, refused.code, refused.status)


async def _take_entry(request: web.Request, missed: MissedCallService, user: User, before: MissedCall) -> web.Response:
    """Take the entry; its record (claimed for him) comes back with its card for the preview, else its number. An
    entry he took already comes back the same way."""
    held = await _current(request, user)
    mine = before.taken_by == user.id
    if held is not None and (held["call_id"] or not (mine and held["record"]["id"] == before.pool_record_id)):
        raise ConsoleRefusedError("console.error.finish_call_first" if held["call_id"] else "console.cb.error.held")
    entry = before if mine else await missed.take(user.id, before.id)
    if entry is None:
        raise ConsoleRefusedError("console.cb.error.taken")
    view = await _current(request, user) if entry.pool_record_id is not None else None
    if view is not None and view["record"]["id"] == entry.pool_record_id:
        return _reply(request, {**view, "taken": entry.id})
    return _reply(
        request,
        {
            "taken": entry.id,
            "record": None,
            "phone": entry.phone,
            "name": entry.caller_name,
            "note": translator(request)(
                "console.cb.no_record" if entry.pool_record_id is None else "console.cb.not_dialable"
            ),
        },
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/console", console),
        web.post("/console/state/{action}", change_state),
        web.post("/console/preview/{action}", preview_action),
        web.get("/console/current", current_work),
        web.get("/console/callbacks", callback_list),
        web.post("/console/callbacks/{action}", callback_action),
    ]
