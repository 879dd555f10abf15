/* The live channel's browser side (protocol: agent_console/live/__init__.py).
 *
 *   const live = new LiveChannel();          // ws(s)://<this host>/live
 *   live.on("snapshot", (s) => ...);         // the current state (after a fresh start or a resync)
 *   live.on("event", (m) => ...);            // every event: {stream, seq, prev, event: {type, data}}
 *   live.on("AgentPaused", (data, m) => ...) // or one event type
 *   live.on("status", (s) => ...);           // connecting | live | reconnecting | signed_out | forbidden
 *   live.start();
 *
 * The last sequence number per stream is kept in memory only; after a reconnect the server sends what was missed
 * (or a new snapshot). Nothing here polls: the server pushes, and pings the socket itself (a browser answers pings
 * even in a background tab). Only the reconnect waits on a timer, which a background tab may slow down.
 */
(function () {
  "use strict";

  const STOP = { 4401: "signed_out", 4403: "forbidden", 4400: "forbidden" };
  const FORGET = new Set([4409]); // rights changed: start over with a snapshot

  class LiveChannel {
    constructor(url) {
      this.url = url || (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/live";
      this.listeners = new Map();
      this.epoch = null;
      this.seqs = null; // stream -> last seq this page holds; null until a snapshot (or while resyncing)
      this.ws = null;
      this.attempt = 0;
      this.timer = null;
      this.stopped = true;
    }

    on(type, listener) {
      if (!this.listeners.has(type)) this.listeners.set(type, []);
      this.listeners.get(type).push(listener);
      return this;
    }

    emit(type, ...args) {
      for (const listener of this.listeners.get(type) || []) {
        try {
          listener(...args);
        } catch (error) {
          console.error("live listener failed", type, error);
        }
      }
    }

    start() {
      this.stopped = false;
      window.addEventListener("online", () => this.reconnectNow());
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible") this.reconnectNow();
      });
      this.open();
      return this;
    }

    stop() {
      this.stopped = true;
      clearTimeout(this.timer);
      if (this.ws) this.ws.close(1000);
    }

    open() {
      clearTimeout(this.timer);
      this.timer = null;
      const ws = new WebSocket(this.url);
      this.ws = ws;
      this.emit("status", this.attempt ? "reconnecting" : "connecting");
      ws.onopen = () => {
        const hello = this.epoch && this.seqs ? { epoch: this.epoch, resume: this.seqs } : {};
        ws.send(JSON.stringify({ hello }));
      };
      ws.onmessage = (message) => {
        if (ws === this.ws) this.receive(JSON.parse(message.data));
      };
      ws.onclose = (close) => {
        if (ws === this.ws) this.closed(close.code);
      };
    }

    receive(message) {
      switch (message.type) {
        case "welcome":
          if (message.epoch !== this.epoch) this.seqs = null;
          this.epoch = message.epoch;
          this.attempt = 0;
          this.emit("status", "live");
          this.emit("welcome", message);
          break;
        case "snapshot":
          this.seqs = Object.assign({}, message.seqs);
          this.emit("snapshot", message);
          break;
        case "position":
          if (this.seqs) {
            for (const [stream, seq] of Object.entries(message.seqs)) {
              if (seq > (this.seqs[stream] || 0)) this.seqs[stream] = seq;
            }
          }
          break;
        case "event":
          if (!this.seqs) return; // a resync is under way: its snapshot covers this event
          if (message.prev !== (this.seqs[message.stream] || 0)) {
            this.resync(); // an event this page never got: the sequence numbers do not chain
            return;
          }
          this.seqs[message.stream] = message.seq;
          this.emit("event", message);
          this.emit(message.event.type, message.event.data, message);
          break;
        default:
          break; // a newer server's message: ignored
      }
    }

    resync() {
      this.seqs = null;
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ resync: true }));
    }

    closed(code) {
      this.ws = null;
      if (this.stopped) return;
      if (STOP[code]) {
        this.stopped = true;
        this.emit("status", STOP[code]);
        return;
      }
      if (FORGET.has(code)) this.seqs = null;
      this.attempt += 1;
      this.emit("status", "reconnecting");
      const delay = Math.min(30000, 500 * 2 ** Math.min(this.attempt - 1, 6)) * (0.75 + Math.random() / 2);
      this.timer = setTimeout(() => this.open(), delay);
    }

    reconnectNow() {
      if (!this.stopped && !this.ws && this.timer) this.open();
    }
  }

  window.LiveChannel = LiveChannel;

  // The agent console: his own state, pushed.
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

  function consolePage() {
    const stateBox = document.querySelector("[data-live-state]");
    const labelsBlock = document.getElementById("live-labels");
    if (!stateBox || !labelsBlock) return;
    const labels = JSON.parse(labelsBlock.textContent);
    const statusBox = document.querySelector("[data-live-status]");
    const me = Number(stateBox.dataset.userId);
    const show = (state) => {
      stateBox.textContent = labels.state[state] || state;
      stateBox.dataset.state = state;
    };
    const live = new LiveChannel();
    live.on("status", (status) => {
      if (statusBox) statusBox.textContent = labels.status[status] || status;
    });
    live.on("snapshot", (snapshot) => {
      const mine = snapshot.agents.find((agent) => agent.user_id === me);
      show(mine ? mine.state : "logged_out");
    });
    live.on("event", (message) => {
      const state = STATE_AFTER[message.event.type];
      if (message.stream === "agents" && message.event.data.user_id === me && state) show(state);
    });
    window.callCenterLive = live;
    live.start();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", consolePage);
  else consolePage();
})();
