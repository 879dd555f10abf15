/* The team leader's wallboard (agent_console/wallboard/http.py): keeps the page rendered by the server current
 * from the events the live channel pushes (live.js). Nothing is polled: the figures are read again from
 * /wallboard/data only when the channel sends a snapshot (a fresh start or a resync). The one timer re-renders the
 * "for how long" clocks (and the running break and login times) from the data the page holds.
 */
(function () {
  "use strict";

  const STATE_AFTER = {
    AgentLoggedIn: "online_not_taking",
    AgentBecameReady: "ready",
    AgentPaused: "paused",
    AgentWentOnlineNotTaking: "online_not_taking",
    AgentReserved: "reserved",
    AgentRinging: "ringing",
    AgentAnsweredCall: "on_call",
    AgentStartedWrapUp: "wrap_up",
    AgentLoggedOut: "logged_out",
  };
  const WITH_CALL = new Set(["reserved", "ringing", "on_call", "wrap_up"]);

  function duration(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  }

  function start() {
    const dataBlock = document.getElementById("wallboard-data");
    const labelsBlock = document.getElementById("wallboard-labels");
    if (!dataBlock || !labelsBlock || !window.LiveChannel) return;
    const labels = JSON.parse(labelsBlock.textContent);
    const dataUrl = dataBlock.dataset.url;
    let board = JSON.parse(dataBlock.textContent);
    // The server's clock against this browser's: "for how long" counts from the server's times.
    let skew = Date.parse(board.as_of) - Date.now();
    const agents = new Map(); // user id -> agent (state, since, reason, call_id, phone, customer, figures, ...)
    const calls = new Map(); // linkedid -> {agent, destination}
    let success = board.success || {};

    const now = () => Date.now() + skew;
    const tile = (id) => document.querySelector(`.wb-tile[data-agent="${id}"]`);
    const row = (id) => document.querySelector(`#wb-figures tbody tr[data-agent="${id}"]`);

    // The first reading takes everything; a later one only the figures (the states stay the pushed ones).
    function load(data) {
      board = data;
      skew = Date.parse(data.as_of) - Date.now();
      success = data.success || {};
      for (const fresh of data.agents) {
        const agent = agents.get(fresh.user_id);
        if (!agent) agents.set(fresh.user_id, fresh);
        else Object.assign(agent, { figures: fresh.figures, pause: fresh.pause, login_seconds: fresh.login_seconds });
      }
    }

    function stateText(agent) {
      const state = labels.state[agent.state] || agent.state;
      if (agent.state === "paused" && agent.reason) {
        const reason = labels.reason[agent.reason] || agent.reason;
        return labels.with_reason.replace("{state}", state).replace("{reason}", reason);
      }
      return state;
    }

    function callText(agent) {
      if (!agent.call_id || !WITH_CALL.has(agent.state)) return labels.no_call;
      const call = calls.get(agent.call_id);
      const phone = agent.phone || (call && call.destination) || "";
      return [phone, agent.customer].filter(Boolean).join(" · ") || labels.none;
    }

    function showTile(agent) {
      const box = tile(agent.user_id);
      if (!box) return;
      box.dataset.state = agent.state;
      box.querySelector(".wb-state").textContent = stateText(agent);
      box.querySelector(".wb-call-text").textContent = callText(agent);
      const elapsed = box.querySelector(".wb-elapsed");
      elapsed.dataset.since = agent.since || "";
      elapsed.textContent = agent.since ? duration((now() - Date.parse(agent.since)) / 1000) : "";
    }

    // Break and login time: the day's figures at the last reading, plus the period running since.
    function pauseNow(agent) {
      const pause = Object.assign({}, agent.pause || {});
      if (agent.state === "paused" && agent.reason && agent.since && agent.counted_from) {
        pause[agent.reason] = (pause[agent.reason] || 0) + (now() - agent.counted_from) / 1000;
      }
      return pause;
    }

    function loginNow(agent) {
      let seconds = agent.login_seconds || 0;
      if (agent.state !== "logged_out" && agent.counted_from) seconds += (now() - agent.counted_from) / 1000;
      return seconds;
    }

    function pauseText(pause) {
      const parts = Object.keys(pause)
        .sort()
        .filter((reason) => pause[reason] >= 1)
        .map((reason) => `${labels.reason[reason] || reason} ${duration(pause[reason])}`);
      return parts.length ? parts.join(", ") : labels.none;
    }

    function setCells(target, figures, pause, login) {
      if (!target) return;
      const cell = (name) => target.querySelector(`[data-figure="${name}"]`);
      for (const name of ["calls", "connected", "successful", "failed"]) cell(name).textContent = figures[name];
      cell("avg_talk").textContent = figures.talked ? duration(figures.talk_seconds / figures.talked) : labels.none;
      cell("pause").textContent = pauseText(pause);
      cell("login").textContent = duration(login);
    }

    function showFigures() {
      const total = { calls: 0, connected: 0, successful: 0, failed: 0, talk_seconds: 0, talked: 0 };
      const totalPause = {};
      let totalLogin = 0;
      for (const agent of agents.values()) {
        const pause = pauseNow(agent);
        const login = loginNow(agent);
        setCells(row(agent.user_id), agent.figures, pause, login);
        for (const key of Object.keys(total)) total[key] += agent.figures[key];
        for (const [reason, seconds] of Object.entries(pause)) totalPause[reason] = (totalPause[reason] || 0) + seconds;
        totalLogin += login;
      }
      setCells(document.querySelector("#wb-figures [data-team-total]"), total, totalPause, totalLogin);
    }

    function showTop() {
      const list = document.getElementById("wb-top");
      const ranked = [...agents.values()]
        .filter((a) => a.figures.calls || a.figures.successful)
        .sort(
          (a, b) =>
            b.figures.successful - a.figures.successful ||
            b.figures.calls - a.figures.calls ||
            a.full_name.localeCompare(b.full_name, "tr") ||
            a.user_id - b.user_id,
        )
        .slice(0, 5);
      list.replaceChildren(
        ...ranked.map((agent) => {
          const item = document.createElement("li");
          item.dataset.agent = agent.user_id;
          const name = document.createElement("span");
          name.className = "wb-top-name";
          name.textContent = agent.full_name;
          const figure = document.createElement("span");
          figure.className = "wb-top-figure";
          figure.textContent = labels.top_line
            .replace("{successful}", agent.figures.successful)
            .replace("{calls}", agent.figures.calls);
          item.append(name, " ", figure);
          return item;
        }),
      );
      document.getElementById("wb-top-empty").hidden = ranked.length > 0;
    }

    function tick() {
      for (const agent of agents.values()) {
        const box = tile(agent.user_id);
        if (box && agent.since) {
          box.querySelector(".wb-elapsed").textContent = duration((now() - Date.parse(agent.since)) / 1000);
        }
      }
      showFigures();
    }

    // The break and login time already counted in the figures run up to the reading; from then on the running
    // period adds to them (closed by the next state change).
    function countFrom(agent, at) {
      if (agent.counted_from && agent.state !== "logged_out") {
        const spent = (at - agent.counted_from) / 1000;
        agent.login_seconds = (agent.login_seconds || 0) + spent;
        if (agent.state === "paused" && agent.reason) {
          agent.pause = Object.assign({}, agent.pause);
          agent.pause[agent.reason] = (agent.pause[agent.reason] || 0) + spent;
        }
      }
      agent.counted_from = at;
    }

    function resetCounting() {
      const at = now();
      for (const agent of agents.values()) agent.counted_from = at;
    }

    function agentEvent(type, data) {
      const agent = agents.get(data.user_id);
      const state = STATE_AFTER[type];
      if (!agent || !state) return false;
      countFrom(agent, Math.max(Date.parse(data.occurred_at) || now(), agent.counted_from || 0));
      agent.state = state;
      agent.since = data.occurred_at || new Date(now()).toISOString();
      agent.reason = state === "paused" ? data.reason : null;
      if (data.call_id) {
        if (data.call_id !== agent.call_id) {
          agent.phone = null;
          agent.customer = null;
        }
        agent.call_id = data.call_id;
        const call = calls.get(data.call_id) || {};
        call.agent = data.user_id;
        calls.set(data.call_id, call);
      } else if (!WITH_CALL.has(state)) {
        agent.call_id = null;
      }
      showTile(agent);
      return true;
    }

    function callAgent(linkedid) {
      const call = calls.get(linkedid);
      return call ? agents.get(call.agent) : undefined;
    }

    function bind(linkedid, agentId, destination) {
      const call = calls.get(linkedid) || {};
      if (agentId != null) call.agent = agentId;
      if (destination) call.destination = destination;
      calls.set(linkedid, call);
    }

    function otherEvent(type, data) {
      switch (type) {
        case "CallDialing":
          bind(data.linkedid, null, data.destination);
          return false;
        case "RecordDialed":
          bind(data.call_id, data.agent_id, data.phone);
          return false;
        case "CallConnectedToAgent":
          bind(data.linkedid, data.agent_id, null);
          return false;
        case "CallEnded": {
          const agent = agents.get(data.agent_id) || callAgent(data.linkedid);
          if (!agent) return false;
          agent.figures.calls += 1;
          if (data.talk_seconds > 0) {
            agent.figures.connected += 1;
            agent.figures.talked += 1;
            agent.figures.talk_seconds += data.talk_seconds;
          }
          return true;
        }
        case "CallFailed": {
          const agent = callAgent(data.linkedid);
          if (!agent) return false;
          agent.figures.calls += 1;
          agent.figures.failed += 1;
          return true;
        }
        case "CallDisposed": {
          const agent = agents.get(data.agent_id);
          const codes = success[String(data.campaign_id)] || [];
          if (!agent || !codes.includes(data.disposition)) return false;
          agent.figures.successful += 1;
          return true;
        }
        default:
          return false;
      }
    }

    async function refresh() {
      if (!dataUrl) return;
      try {
        const response = await fetch(dataUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok) return;
        load(await response.json());
        resetCounting();
        for (const agent of agents.values()) showTile(agent);
        showFigures();
        showTop();
      } catch (error) {
        console.error("wallboard refresh failed", error);
      }
    }

    load(board);
    resetCounting();

    const live = new LiveChannel();
    const status = document.getElementById("wb-live-status");
    let snapshots = 0;
    live.on("status", (value) => {
      if (status) status.textContent = labels.status[value] || value;
    });
    live.on("snapshot", (snapshot) => {
      for (const call of snapshot.calls) bind(call.linkedid, call.agent_id, call.destination);
      for (const state of snapshot.agents) {
        const agent = agents.get(state.user_id);
        if (!agent) continue;
        if (state.call_id !== agent.call_id) {
          agent.phone = null;
          agent.customer = null;
        }
        Object.assign(agent, {
          state: state.state,
          since: state.since,
          reason: state.reason,
          call_id: state.call_id,
        });
        showTile(agent);
      }
      snapshots += 1;
      if (snapshots > 1 || Date.now() + skew - Date.parse(board.as_of) > 2000) refresh();
    });
    live.on("event", (message) => {
      const { type, data } = message.event;
      const changed = message.stream === "agents" ? agentEvent(type, data) : otherEvent(type, data);
      if (changed) {
        showFigures();
        showTop();
      }
    });
    window.callCenterWallboard = { live, agents };
    live.start();
    setInterval(tick, 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
