"""The live channel: one WebSocket per browser (``GET /live``) through which the server pushes every change.

Authentication: the login session cookie, as for pages; the ``Origin`` header, when present, must name this site
(cross-site WebSocket hijacking). What a user receives depends on his role (:mod:`agent_console.live.audience`).

Protocol: JSON text frames.

Browser → server

* first, within 15 s: ``{"hello": {"epoch": "<epoch>", "resume": {"agents": 12, "calls": 40, "campaigns": 3}}}``
  with the epoch and the last sequence number per stream the browser holds, or ``{"hello": {}}`` for a fresh start;
* ``{"resync": true}`` when it detected a gap: it gets a new snapshot.

Server → browser

* ``{"type": "welcome", "epoch": "...", "resumed": true|false, "user": {"id", "role", "team_id"}}``;
* when resumed: the missed events (below), then a ``position``; otherwise
  ``{"type": "snapshot", "seqs": {"agents": 12, ...}, "agents": [{"user_id", "username", "full_name", "team_id",
  "state", "since", "reason", "call_id", "wrap_up_until", "next_state"}, ...], "calls": [{"linkedid", "status",
  "agent_id", "since", "destination"}, ...]}`` — the current state as of ``seqs``;
* ``{"type": "event", "stream": "agents", "seq": 13, "prev": 12, "published_at": "...", "event": {"type":
  "AgentPaused", "version": 1, "data": {...}}}``. A browser receives only the events of its audience, so ``seq``
  jumps; ``prev`` is the stream's seq the browser must hold already (the previous event it was sent, or the last
  snapshot/position). If it does not, events were lost: it asks for a resync;
* ``{"type": "position", "seqs": {...}}``: everything for this browser up to these seqs has been sent (after a
  catch-up, and with every heartbeat): the browser resumes from there.

The server sends a WebSocket ping every ``web.live_heartbeat_seconds`` (browsers answer by themselves, even in a
background tab); a peer that stays silent for a whole interval is dropped. The session is checked again every
minute and at once when its user signs out or is changed.

Close codes

=====  ==========================================================================================================
1001   the server is shutting down: reconnect (with resume)
4400   protocol error (not JSON, no or bad hello, binary frame)
4401   not signed in, or the session ended (sign-out, expiry, user disabled): go to the login page
4403   signed in, but no live audience (no ``console.use``; a team leader without a team)
4408   too slow: the browser's queue (``web.live_queue_size`` messages) overflowed, or not even a ping could be
       written to it for a whole heartbeat interval: reconnect, resync
4409   the user's rights or team changed: reconnect (a new snapshot for the new audience)
4504   no answer to pings
1011   the server failed on this connection: reconnect
=====  ==========================================================================================================
"""
