// The dashboard's only script: live refresh, the pair picker, review buttons, and the diffs a
// long run's table leaves out until a row is opened.
// Data is never turned into markup here: the server renders (and escapes) every section and
// every row's body, this script swaps those fragments in and writes its own messages with
// textContent only. It sends the digests of the sections it holds, so an update carries only
// the sections that changed.
"use strict";

(() => {
  const POLL_MS = 2000;
  const TOKEN_KEY = "overnight-token";
  const main = document.querySelector("main");

  const address = new URLSearchParams(window.location.search);
  if (address.has("token")) {
    sessionStorage.setItem(TOKEN_KEY, address.get("token"));
    address.delete("token"); // keep it out of the address bar, history and screenshots
    const rest = address.toString();
    history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : ""));
  }
  const token = sessionStorage.getItem(TOKEN_KEY) || "";
  let version = main.dataset.version || "";

  function viewQuery() {
    const query = new URLSearchParams(window.location.search);
    query.delete("token");
    return query;
  }

  function setLive(state, text) {
    const dot = document.getElementById("live-dot");
    const label = document.getElementById("live-text");
    if (dot) dot.className = "live-dot " + state;
    if (label) label.textContent = text;
  }

  function showAccess() {
    const access = document.getElementById("review-access");
    if (access) {
      access.textContent = token
        ? "reviews on"
        : "read-only: open the address `overnight serve` printed to review";
    }
  }

  function remember() {
    return {
      open: [...document.querySelectorAll("details[id]")].map((d) => [d.id, d.open]),
      notes: [...document.querySelectorAll("input[name=note]")]
        .filter((input) => input.value)
        .map((input) => [input.id, input.value]),
      focused: document.activeElement ? document.activeElement.id : "",
    };
  }

  function restore(state) {
    for (const [id, open] of state.open) {
      const details = document.getElementById(id);
      if (details) details.open = open;
    }
    for (const [id, value] of state.notes) {
      const input = document.getElementById(id);
      if (input) input.value = value;
    }
    const focused = state.focused && document.getElementById(state.focused);
    if (focused) focused.focus();
  }

  function held() {
    return [...document.querySelectorAll("section[data-digest]")]
      .map((section) => section.id + ":" + section.dataset.digest)
      .join(",");
  }

  async function refresh() {
    const query = viewQuery();
    query.set("have", held());
    const response = await fetch("/api/sections?" + query, { cache: "no-store" });
    if (!response.ok) return;
    const data = await response.json();
    const state = remember();
    for (const [name, html] of Object.entries(data.sections)) {
      const section = document.getElementById(name);
      if (!section) continue;
      section.innerHTML = html; // rendered and escaped by the server
      section.dataset.digest = data.digests[name];
    }
    restore(state);
    showAccess();
    version = data.version;
    main.dataset.version = version;
  }

  async function poll() {
    try {
      const response = await fetch("/api/version?" + viewQuery(), { cache: "no-store" });
      const data = await response.json();
      if (!main.dataset.run) {
        if (data.run) window.location.reload(); // the first run has started
      } else if (data.version !== version) {
        await refresh();
      }
      const parts = [data.stopped ? "run stopped" : "live", `${data.tried ?? 0} tried`];
      if (data.running !== null && data.running !== undefined) {
        parts.push(`experiment ${data.running} running`);
      }
      parts.push(`checked ${new Date().toLocaleTimeString()}`);
      setLive(data.stopped ? "" : "on", parts.join(" · "));
    } catch (error) {
      setLive("off", "server not answering");
    }
    window.setTimeout(poll, POLL_MS);
  }

  async function sendReview(form, verdict) {
    const status = form.querySelector(".form-status");
    const body = {
      run: main.dataset.run,
      number: Number(form.dataset.number),
      verdict: verdict,
      note: form.elements.note.value,
      case_id: form.dataset.case || null,
    };
    status.textContent = "saving…";
    const response = await fetch("/api/review", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Overnight-Token": token },
      body: JSON.stringify(body),
    });
    if (response.ok) {
      form.elements.note.value = "";
      status.textContent = "saved";
      await refresh();
      return;
    }
    const detail = await response.json().catch(() => ({}));
    status.textContent = response.status === 403
      ? "not saved: this page has no review token (open the address `overnight serve` printed)"
      : "not saved: " + (typeof detail.detail === "string" ? detail.detail : response.status);
  }

  async function loadBody(details) {
    const body = details.querySelector(":scope > .exp-body[data-load]");
    if (!details.open || !body) return;
    const query = new URLSearchParams({ run: main.dataset.run || "" });
    const response = await fetch(`/api/experiment/${body.dataset.load}?` + query, {
      cache: "no-store",
    });
    if (!response.ok || !body.isConnected) return;
    body.innerHTML = await response.text(); // rendered and escaped by the server
    body.removeAttribute("data-load");
  }

  function showPair(form) {
    const query = new URLSearchParams(new FormData(form));
    history.pushState(null, "", "/?" + query);
    refresh();
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.classList.contains("review-form")) {
      event.preventDefault();
      sendReview(form, event.submitter ? event.submitter.value : "");
    } else if (form.id === "pair-form") {
      event.preventDefault();
      showPair(form);
    }
  });
  document.addEventListener("change", (event) => {
    const form = event.target.form;
    if (!form || form.id !== "pair-form") return;
    if (event.target.name === "run") {
      // another run has other experiments: start from its baseline and best
      window.location.assign("/?" + new URLSearchParams({ run: event.target.value }));
    } else {
      showPair(form);
    }
  });
  window.addEventListener("popstate", () => refresh());
  document.addEventListener(
    "toggle",
    (event) => {
      if (event.target.matches("details.exp")) loadBody(event.target);
    },
    true, // toggle does not bubble
  );

  showAccess();
  poll();
})();
