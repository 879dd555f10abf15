/* The agent console: the state bar, preview dialing and the call-back list (endpoints:
 * agent_console/console/http.py).
 *
 * Every write is a POST with the page's CSRF token that asks for JSON; a refusal's message (in the user's
 * language) is shown in #console-message. The agent's state and his call's progress come only from the live
 * channel (live.js, window.callCenterLive): nothing here polls. The call-back list is read (one GET) when the page
 * opens, on each (re)connect and when an event of stream "callbacks" is pushed; its waited times tick locally.
 */
(function () {
  "use strict";

  function start() {
    const root = document.getElementById("console");
    const labelsBlock = document.getElementById("console-labels");
    if (!root || !labelsBlock) return;
    const labels = JSON.parse(labelsBlock.textContent);
    const csrf = root.dataset.csrf;
    const message = document.getElementById("console-message");
    const $ = (id) => document.getElementById(id);

    function say(text, isError) {
      message.textContent = text || "";
      message.className = isError ? "error" : "muted";
    }

    async function post(url, fields) {
      const body = new URLSearchParams();
      for (const [name, value] of Object.entries(fields || {})) body.append(name, value == null ? "" : value);
      let response;
      try {
        response = await fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRF-Token": csrf },
          body,
        });
      } catch (error) {
        say(labels["error.network"], true);
        return null;
      }
      let data = null;
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
      if (!response.ok) {
        say((data && data.message) || labels["error.network"], true);
        return null;
      }
      return data || {};
    }

    // -- the state bar: forms posted as JSON; the state shown is the pushed one --------------------------------
    for (const form of document.querySelectorAll("form[data-state-form]")) {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const fields = {};
        for (const [name, value] of new FormData(form).entries()) if (name !== "_csrf") fields[name] = value;
        const data = await post(form.action, fields);
        if (data) say(data.scheduled ? labels["statebar.scheduled"] : "", false);
      });
    }

    // The buttons follow the pushed state: the current one is pressed; logging in (out) only when out (in).
    const stateBox = document.querySelector("[data-live-state]");
    const PRESSED = { ready: "btn-ready", paused: "btn-pause", online_not_taking: "btn-online" };
    function followState() {
      const current = stateBox.dataset.state;
      if (!current) return;
      for (const [status, id] of Object.entries(PRESSED)) $(id).setAttribute("aria-pressed", String(current === status));
      $("btn-login").disabled = current !== "logged_out";
      $("btn-logout").disabled = current === "logged_out";
    }
    new MutationObserver(followState).observe(stateBox, { attributes: true, attributeFilter: ["data-state"] });

    // -- preview -------------------------------------------------------------------------------------------------
    const card = $("record-card");
    const campaignSelect = $("preview-campaign");
    const dispositionForm = $("disposition-form");
    const progress = $("call-progress");
    const callCard = $("call-card");
    let record = null; // the record on the card
    let callId = null; // the call being placed or talked on, until its disposition
    let disposedLive = null; // a call whose outcome was set while it was still going on
    const seen = new Map(); // linkedid -> progress steps already received (events may beat the dial's answer)

    function clearChildren(node) {
      while (node.firstChild) node.removeChild(node.firstChild);
    }

    function showRecord(data) {
      record = data.record;
      $("record-name").textContent = record.name || record.phone;
      $("record-phone").textContent = record.phone;
      $("record-city").textContent = [record.city, record.region].filter(Boolean).join(" / ");
      const custom = $("record-custom");
      clearChildren(custom);
      for (const [name, value] of record.custom) {
        const row = document.createElement("div");
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.textContent = name;
        dd.textContent = value;
        row.append(dt, dd);
        custom.append(row);
      }
      const warnings = $("record-warnings");
      clearChildren(warnings);
      for (const text of data.warnings) {
        const li = document.createElement("li");
        li.textContent = text;
        warnings.append(li);
      }
      const body = $("record-history").querySelector("tbody");
      clearChildren(body);
      if (!data.history.length) {
        const tr = document.createElement("tr");
        const td = document.createElement("td");
        td.colSpan = 3;
        td.textContent = labels["preview.no_history"];
        tr.append(td);
        body.append(tr);
      }
      for (const attempt of data.history) {
        const tr = document.createElement("tr");
        for (const text of [attempt.at, attempt.outcome, attempt.note]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.append(td);
        }
        body.append(tr);
      }
      const select = $("disposition-code");
      clearChildren(select);
      for (const d of data.dispositions) {
        const option = document.createElement("option");
        option.value = d.code;
        option.textContent = d.label;
        option.dataset.callback = d.callback ? "1" : "";
        select.append(option);
      }
      toggleCallback();
      $("skip-reason").value = "";
      $("btn-dial").disabled = false;
      $("btn-skip").disabled = false;
      card.hidden = false;
      $("btn-dial").focus();
    }

    function hideRecord() {
      record = null;
      card.hidden = true;
    }

    async function takeNext() {
      if (!campaignSelect || callId) return;
      if (record) {
        $("btn-dial").focus(); // dial or skip the record on the card first
        return;
      }
      const data = await post("/console/preview/next", { campaign_id: campaignSelect.value });
      if (!data) return;
      if (!data.record) {
        hideRecord();
        say(labels["preview.none_left"], false);
        return;
      }
      say("", false);
      showRecord(data);
    }

    async function skip() {
      if (!record || callId) return;
      const reason = $("skip-reason").value.trim();
      const data = await post("/console/preview/skip", { record_id: record.id, reason });
      if (!data) {
        $("skip-reason").focus();
        return;
      }
      hideRecord();
      say(labels["preview.skipped"], false);
      if (campaignSelect) campaignSelect.focus();
    }

    function step(status) {
      const li = document.createElement("li");
      li.textContent = labels["progress." + status] || status;
      li.dataset.status = status;
      progress.append(li);
      callCard.textContent = labels["progress." + status] || status;
      callCard.dataset.status = status;
    }

    async function dial() {
      if (!record || callId) return;
      $("btn-dial").disabled = true;
      const data = await post("/console/preview/dial", { record_id: record.id });
      if (!data) {
        $("btn-dial").disabled = false;
        return;
      }
      callId = data.call_id;
      $("btn-skip").disabled = true;
      clearChildren(progress);
      callCard.textContent = labels["preview.dialed"];
      for (const status of seen.get(callId) || []) step(status);
      dispositionForm.hidden = false;
      say("", false);
    }

    function toggleCallback() {
      const option = $("disposition-code").selectedOptions[0];
      $("callback-row").hidden = !(option && option.dataset.callback);
    }

    async function dispose() {
      if (!callId) return;
      const fields = {
        call_id: callId,
        code: $("disposition-code").value,
        note: $("disposition-note").value,
        callback_at: $("callback-row").hidden ? "" : $("callback-at").value,
      };
      const data = await post("/console/preview/dispose", fields);
      if (!data) return;
      // Set during the call: its wrap-up (when it ends) has nothing left to do, so he goes ready by himself then.
      const over = Array.from(progress.children).some((li) => ["ended", "failed"].includes(li.dataset.status));
      disposedLive = over ? null : callId;
      if (over) {
        clearChildren(progress);
        callCard.textContent = labels["no_call"];
        delete callCard.dataset.status;
      }
      seen.delete(callId);
      callId = null;
      dispositionForm.hidden = true;
      dispositionForm.reset();
      hideRecord();
      say(labels["preview.disposed"], false);
      if (campaignSelect) campaignSelect.focus();
    }

    if ($("btn-next")) $("btn-next").addEventListener("click", takeNext);
    $("btn-dial").addEventListener("click", dial);
    $("btn-skip").addEventListener("click", skip);
    $("skip-reason").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        skip();
      }
    });
    $("disposition-code").addEventListener("change", toggleCallback);
    dispositionForm.addEventListener("submit", (event) => {
      event.preventDefault();
      dispose();
    });

    // -- the call's progress, pushed -----------------------------------------------------------------------------
    const STEP = {
      CallDialing: "dialing",
      CallRinging: "ringing",
      CallAnswered: "answered",
      CallConnectedToAgent: "connected",
      CallEnded: "ended",
      CallFailed: "failed",
    };
    const live = window.callCenterLive;
    if (live) {
      const me = Number(document.querySelector("[data-live-state]").dataset.userId);
      // A progressive call reaches him without his asking: his reservation (then his phone ringing, by when the
      // call's record surely exists) brings its record and the disposition form to the screen.
      async function popUp(data) {
        if (data.user_id !== me || !data.call_id || data.call_id === callId) return;
        const response = await fetch("/console/current", { headers: { Accept: "application/json" } });
        if (!response.ok) return;
        const current = (await response.json()).current;
        if (!current || current.call_id !== data.call_id || callId === data.call_id) return;
        if (campaignSelect && current.campaign_id) campaignSelect.value = String(current.campaign_id);
        showRecord(current);
        callId = current.call_id;
        $("btn-dial").disabled = true;
        $("btn-skip").disabled = true;
        clearChildren(progress);
        for (const status of seen.get(callId) || []) step(status);
        dispositionForm.hidden = false;
      }
      for (const type of ["AgentReserved", "AgentRinging", "AgentAnsweredCall"]) live.on(type, popUp);
      live.on("AgentStartedWrapUp", (data) => {
        if (data.user_id === me && disposedLive && data.call_id === disposedLive) {
          disposedLive = null;
          post("/console/state/ready", {});
        }
      });
      live.on("event", (message) => {
        if (message.stream !== "calls") return;
        const status = STEP[message.event.type];
        const linkedid = message.event.data.linkedid;
        if (!status || !linkedid) return;
        if (linkedid === callId) {
          step(status);
          return;
        }
        if (!seen.has(linkedid)) seen.set(linkedid, []);
        seen.get(linkedid).push(status);
        if (seen.size > 50) seen.delete(seen.keys().next().value);
      });
    }

    // -- after a reload: the record he holds, or the call still waiting for his disposition -----------------------
    const currentBlock = $("console-current");
    const current = currentBlock ? JSON.parse(currentBlock.textContent) : null;
    if (current && current.record) {
      if (campaignSelect) campaignSelect.value = String(current.campaign_id);
      showRecord(current);
      if (current.call_id) {
        callId = current.call_id;
        $("btn-dial").disabled = true;
        $("btn-skip").disabled = true;
        dispositionForm.hidden = false;
        if (current.call_ended) step("ended");
      }
    }
    if (live) {
      const SNAPSHOT_STEP = { dialing: "dialing", ringing: "ringing", answered: "answered", connected: "connected" };
      live.on("snapshot", (snapshot) => {
        if (!callId || progress.children.length) return;
        const call = (snapshot.calls || []).find((c) => c.linkedid === callId);
        if (call && SNAPSHOT_STEP[call.status]) step(SNAPSHOT_STEP[call.status]);
      });
    }

    // -- the call-back list ("Geri aranacaklar"): one GET when the page opens and on each pushed callbacks event --
    const cbList = $("cb-list");
    const cbBody = cbList.querySelector("tbody");
    const cbEmpty = $("cb-empty");
    const cbAlert = $("cb-alert");
    const myId = Number(document.querySelector("[data-live-state]").dataset.userId);
    let cbEntries = [];
    let cbSkew = 0; // the server's clock minus this browser's: waited times follow the server's
    let cbAsked = 0; // the latest GET: an older answer arriving late is dropped

    function fill(template, values) {
      return (template || "").replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
    }

    function duration(ms) {
      const minutes = Math.max(0, Math.floor(ms / 60000));
      const h = Math.floor(minutes / 60);
      const m = minutes % 60;
      return h ? fill(labels["cb.hours"], { h, m }) : fill(labels["cb.minutes"], { m });
    }

    function waitedText(entry) {
      const since = Date.parse(entry.since);
      const now = Date.now() + cbSkew;
      if (since > now) return fill(labels["cb.due_at"], { time: entry.since_text });
      return fill(labels["cb.waited"], { time: duration(now - since) });
    }

    function entryKey(entry) {
      return [entry.kind, entry.entry_id, entry.record_id, entry.phone].join(":");
    }

    function cbButton(label, action, entry) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.dataset.action = action;
      button.dataset.key = entryKey(entry);
      button.addEventListener("click", () => cbAct(action, entry, button));
      return button;
    }

    function renderCallbacks() {
      const focused = document.activeElement && cbBody.contains(document.activeElement) ? document.activeElement : null;
      const refocus = focused ? [focused.dataset.key, focused.dataset.action] : null;
      clearChildren(cbBody);
      cbList.hidden = !cbEntries.length;
      cbEmpty.hidden = Boolean(cbEntries.length);
      for (const entry of cbEntries) {
        const tr = document.createElement("tr");
        const misses = entry.misses ? fill(labels["cb.misses"], { n: entry.misses }) : "";
        for (const text of [entry.phone, entry.name, entry.kind_label, entry.since_text, waitedText(entry), misses]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.append(td);
        }
        const actions = document.createElement("td");
        if (entry.entry_id) {
          if (entry.mine) {
            const mark = document.createElement("span");
            mark.textContent = labels["cb.taken_by_me"] + " ";
            actions.append(mark, cbButton(labels["cb.release"], "release", entry));
          } else {
            actions.append(cbButton(labels["cb.take"], "take", entry));
          }
          actions.append(cbButton(labels["cb.dismiss"], "dismiss", entry));
        }
        tr.append(actions);
        cbBody.append(tr);
      }
      if (refocus) {
        const again = Array.from(cbBody.querySelectorAll("button")).find(
          (b) => b.dataset.key === refocus[0] && b.dataset.action === refocus[1]
        );
        (again || cbList).focus();
      }
    }

    function tick() {
      cbEntries.forEach((entry, i) => {
        const row = cbBody.rows[i];
        if (row) row.cells[4].textContent = waitedText(entry);
      });
    }

    async function loadCallbacks() {
      const asked = ++cbAsked;
      let data = null;
      try {
        const response = await fetch("/console/callbacks", {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (response.ok) data = await response.json();
      } catch (error) {
        data = null; // the next pushed event (or the reconnect's snapshot) asks again
      }
      if (!data || asked !== cbAsked) return;
      cbSkew = Date.parse(data.now) - Date.now();
      cbEntries = data.entries;
      renderCallbacks();
    }

    async function cbAct(action, entry, button) {
      button.disabled = true;
      const data = await post("/console/callbacks/" + action, { entry_id: entry.entry_id });
      button.disabled = false;
      if (data && action === "take") {
        if (data.record) {
          if (campaignSelect && data.campaign_id) campaignSelect.value = String(data.campaign_id);
          say("", false);
          showRecord(data);
        } else {
          say([data.name, data.phone, data.note].filter(Boolean).join(" — "), false);
        }
      } else if (data) {
        say(labels[action === "release" ? "cb.released" : "cb.dismissed"], false);
      }
      loadCallbacks();
    }

    function alertDue(data) {
      const known = cbEntries.find((e) => e.kind === "callback" && data.record_id && e.record_id === data.record_id);
      cbAlert.textContent = fill(labels["cb.alert"], { name: (known && known.name) || data.phone });
      cbAlert.hidden = false;
    }

    loadCallbacks();
    setInterval(tick, 30000);
    if (live) {
      live.on("snapshot", () => loadCallbacks());
      live.on("event", (message) => {
        if (message.stream !== "callbacks") return;
        const event = message.event;
        const due = event.type === "CallbackDue" && (event.data.owner_id === myId || event.data.escalated);
        if (due) alertDue(event.data);
        loadCallbacks().then(() => {
          if (due) alertDue(event.data);
        });
      });
    }

    // -- keyboard ------------------------------------------------------------------------------------------------
    const KEYS = {
      KeyR: () => $("btn-ready").click(),
      KeyP: () => $("btn-pause").click(),
      KeyN: takeNext,
      KeyD: dial,
      KeyG: () => {
        if (record && !callId) $("skip-reason").focus();
      },
      KeyS: dispose,
    };
    document.addEventListener("keydown", (event) => {
      if (!event.altKey || event.ctrlKey || event.metaKey) return;
      const action = KEYS[event.code];
      if (!action) return;
      event.preventDefault();
      action();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
