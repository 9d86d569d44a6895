// The inspector page's script (inlined into page.html when served): plain DOM, no framework, no build.

(() => {
  const $ = (s, root = document) => root.querySelector(s);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  };
  const SVG = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs = {}) => {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    return n;
  };
  const KEY = "fleet.inspector.token";
  const state = {
    token: sessionStorage.getItem(KEY),
    kinds: [],
    actor: null,
    machine: null,
    history: null,
    past: null,
    actorFeed: null,
    feed: null,
    feedPaused: false,
    refreshTimer: null,
  };

  // ---- API ----
  class ApiError extends Error {
    constructor(status, body) {
      super(body?.message ?? `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }
  async function api(path, options = {}) {
    const res = await fetch(path, {
      ...options,
      headers: { Authorization: `Bearer ${state.token}`, ...(options.body ? { "Content-Type": "application/json" } : {}) },
    });
    const body = await res.json().catch(() => null);
    if (res.status === 401 || res.status === 403) {
      if (!options.quiet) logout(res.status === 403 ? "That token is not an admin token." : "The token was refused.");
      throw new ApiError(res.status, body);
    }
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }

  /** Server-sent events over fetch (EventSource cannot send the token header). */
  function stream(path, onRecord, onStatus) {
    const controller = new AbortController();
    (async () => {
      while (!controller.signal.aborted) {
        try {
          const res = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` }, signal: controller.signal });
          if (!res.ok) {
            onStatus?.(`feed: HTTP ${res.status}`);
            if (res.status === 401 || res.status === 403) return;
            throw new Error();
          }
          onStatus?.("live");
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let end;
            for (end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
              const chunk = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = chunk
                .split("\n")
                .filter((l) => l.startsWith("data: "))
                .map((l) => l.slice(6))
                .join("\n");
              if (data)
                try {
                  onRecord(JSON.parse(data));
                } catch {}
            }
          }
        } catch {
          if (controller.signal.aborted) return;
        }
        onStatus?.("reconnecting…");
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    return () => controller.abort();
  }

  // ---- login ----
  const NOTICE = "fleet.inspector.notice";
  /** Forgets the token and reloads the page bare: nothing read with the old token stays in memory or on screen. */
  function logout(message = "") {
    sessionStorage.removeItem(KEY);
    state.token = null;
    state.actorFeed?.();
    state.feed?.();
    if (message) sessionStorage.setItem(NOTICE, message);
    location.replace(location.pathname);
  }
  $("#login-error").textContent = sessionStorage.getItem(NOTICE) ?? "";
  sessionStorage.removeItem(NOTICE);
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    state.token = $("#token").value.trim();
    try {
      await api("/inspector/api/kinds", { quiet: true });
    } catch (err) {
      $("#login-error").textContent =
        err.status === 403 ? "That token is not an admin token." : err.status === 401 ? "Unknown token." : `Cannot reach the API (${err.message}).`;
      state.token = null;
      return;
    }
    sessionStorage.setItem(KEY, state.token);
    $("#token").value = "";
    start();
  });
  $("#logout").addEventListener("click", () => logout());

  async function start() {
    $("#login").classList.add("hidden");
    $("#app").classList.remove("hidden");
    await loadKinds();
    // Counts stay fresh while the tab is visible.
    setInterval(() => {
      if (state.token && document.visibilityState === "visible") loadKinds().catch(() => {});
    }, 10_000);
    const hash = new URLSearchParams(location.hash.slice(1));
    if (hash.get("kind") && hash.get("id")) openActor(hash.get("kind"), hash.get("id"));
  }

  // ---- tabs ----
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  function showTab(tab) {
    for (const b of document.querySelectorAll("nav button")) b.classList.toggle("on", b.dataset.tab === tab);
    for (const v of ["actor", "feed", "cluster"]) $(`#view-${v}`).classList.toggle("hidden", v !== tab);
    if (tab === "feed") openFeed();
    else closeFeed();
    if (tab === "cluster") loadCluster();
  }

  // ---- kinds ----
  async function loadKinds() {
    const body = await api("/inspector/api/kinds");
    state.kinds = body.items;
    $("#who").replaceChildren(el("span", {}, `${body.instances.length} instance${body.instances.length === 1 ? "" : "s"}`));
    $("#kinds thead").replaceChildren(
      el("tr", {}, el("th", {}, "kind"), ...body.instances.map((i) => el("th", { class: "n", title: i }, short(i))), el("th", { class: "n" }, "Σ")),
    );
    $("#kinds tbody").replaceChildren(
      ...body.items.map((k) =>
        el(
          "tr",
          { class: "kind", onclick: () => showHosted(k.type) },
          el("td", {}, k.type),
          ...body.instances.map((i) => el("td", { class: "n" }, k.active[i] ?? 0)),
          el("td", { class: "n" }, k.total_active),
        ),
      ),
    );
    const select = $("#search-kind"),
      chosen = select.value;
    select.replaceChildren(...body.items.map((k) => el("option", { value: k.type }, k.type)));
    if (chosen) select.value = chosen;
  }
  const short = (s) => (s.length > 10 ? `${s.slice(0, 9)}…` : s);
  $("#refresh-kinds").addEventListener("click", () => loadKinds());
  const actorLink = (type, id) =>
    el(
      "a",
      {
        href: "#",
        class: "chip",
        onclick: (e) => {
          e.preventDefault();
          openActor(type, id);
        },
      },
      id,
    );
  const actorsOf = (type, prefix = "") => api(`/inspector/api/kinds/${encodeURIComponent(type)}/actors?${new URLSearchParams({ prefix, limit: "40" })}`);

  /** A kind's actors: the active ones per instance, then stored ones (passivated too). */
  async function showHosted(type) {
    $("#search-kind").value = type;
    $("#hosted-kind").textContent = type;
    $("#hosted-box").classList.remove("hidden");
    const body = await actorsOf(type);
    const live = new Set(body.live.flatMap((i) => i.ids));
    $("#hosted").replaceChildren(
      ...body.live.map((i) =>
        el(
          "div",
          { class: "hosted-instance" },
          el("div", { class: "meta" }, `active on ${i.instance}: ${i.count}`),
          el("div", {}, ...i.ids.map((id) => actorLink(type, id))),
        ),
      ),
      el(
        "div",
        { class: "hosted-instance" },
        el("div", { class: "meta" }, "stored (passivated too)"),
        el("div", {}, ...body.stored.filter((s) => !live.has(s.id)).map((s) => actorLink(type, s.id))),
      ),
    );
  }

  let suggest;
  $("#search-id").addEventListener("input", () => {
    clearTimeout(suggest);
    suggest = setTimeout(async () => {
      const type = $("#search-kind").value;
      if (!type) return;
      const body = await actorsOf(type, $("#search-id").value.trim()).catch(() => undefined);
      if (!body) return;
      const ids = [...new Set([...body.live.flatMap((i) => i.ids), ...body.stored.map((s) => s.id)])].sort();
      $("#search-ids").replaceChildren(...ids.map((id) => el("option", { value: id })));
    }, 200);
  });

  $("#search").addEventListener("submit", (e) => {
    e.preventDefault();
    openActor($("#search-kind").value, $("#search-id").value.trim());
  });

  // ---- actor ----
  async function openActor(kind, id) {
    $("#search-error").textContent = "";
    showTab("actor");
    try {
      const [actor, machine] = await Promise.all([
        api(`/inspector/api/actors/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`),
        state.machine?.type === kind ? state.machine : api(`/inspector/api/kinds/${encodeURIComponent(kind)}/machine`),
      ]);
      state.actor = actor;
      state.machine = machine;
      state.past = null;
    } catch (err) {
      $("#search-error").textContent = err.status === 404 ? `No ${kind} "${id}" (neither live nor in the snapshots).` : err.message;
      return;
    }
    history.replaceState(null, "", `#kind=${encodeURIComponent(kind)}&id=${encodeURIComponent(id)}`);
    $("#search-kind").value = kind;
    $("#search-id").value = id;
    $("#actor-empty").classList.add("hidden");
    $("#actor").classList.remove("hidden");
    renderActor();
    renderChart();
    renderWhatIfChoices();
    await loadHistory();
    state.actorFeed?.();
    state.actorFeed = stream(
      `/inspector/api/feed?kind=${encodeURIComponent(kind)}&id=${encodeURIComponent(id)}`,
      (record) => onActorRecord(record),
      (s) => ($("#a-live").textContent = s === "live" ? "● live" : s),
    );
  }

  function onActorRecord(record) {
    const a = state.actor;
    if (!a || record.type !== a.type || record.id !== a.id) return;
    a.state = record.state;
    a.context = record.context;
    a.instance = record.instance;
    a.source = "live";
    a.last_event = { type: record.event.type, at: new Date(record.at).toISOString() };
    state.fired = { event: record.event.type, at: Date.now() };
    renderActor();
    renderChart();
    renderWhatIfChoices();
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(async () => {
      // The committed truth (version, journal) follows the live record.
      try {
        const fresh = await api(`/inspector/api/actors/${encodeURIComponent(a.type)}/${encodeURIComponent(a.id)}`);
        if (state.actor === a) {
          const ended = fresh.status !== a.status;
          Object.assign(a, fresh);
          renderActor();
          if (ended) renderWhatIfChoices();
        }
      } catch {}
      loadHistory();
    }, 250);
  }

  function activePaths(value, prefix = "") {
    if (typeof value === "string") return [prefix ? `${prefix}.${value}` : value];
    if (!value || typeof value !== "object") return [];
    return Object.entries(value).flatMap(([k, v]) => {
      const p = prefix ? `${prefix}.${k}` : k;
      return [p, ...activePaths(v, p)];
    });
  }
  const stateText = (value) => activePaths(value).filter((p, _, all) => !all.some((q) => q.startsWith(`${p}.`)));

  function renderActor() {
    const a = state.actor;
    $("#a-title").textContent = `${a.type}/${a.id}`;
    $("#a-states").replaceChildren(...stateText(a.state).map((s) => el("span", { class: "chip state", "data-state": s }, s)));
    $("#a-meta").replaceChildren(
      el("span", {}, "instance ", el("b", {}, a.instance)),
      el("span", {}, "source ", el("b", {}, a.source === "live" ? "live (in memory)" : "snapshot (passivated)")),
      el("span", {}, "version ", el("b", {}, a.version)),
      el("span", {}, "last event ", el("b", {}, a.last_event ? a.last_event.type : "—")),
      el("span", {}, "at ", el("b", {}, a.last_event ? new Date(a.last_event.at).toLocaleString() : "—")),
    );
    if (!state.past) {
      $("#ctx-title").textContent = "Context (now)";
      $("#context").replaceChildren(jsonTree(a.context));
    }
  }

  // ---- JSON ----
  function jsonTree(value, depth = 0, key = null) {
    const label = key === null ? [] : [el("span", { class: "k" }, JSON.stringify(key)), ": "];
    if (value !== null && typeof value === "object") {
      const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
      const d = el("details", depth < 2 ? { open: "" } : {});
      d.append(el("summary", {}, ...label, Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`));
      for (const [k, v] of entries) d.append(jsonTree(v, depth + 1, Array.isArray(value) ? k : k));
      return depth === 0 ? el("div", {}, d) : d;
    }
    const cls = typeof value === "string" ? "s" : typeof value === "number" ? "num" : "b";
    return el("div", { class: "row" }, ...label, el("span", { class: cls }, JSON.stringify(value)));
  }

  // ---- statechart ----
  const BOX_H = 34,
    PAD = 14,
    HEAD = 22,
    GAP = 70,
    VGAP = 50,
    PER_ROW = 3;
  function layout(machine) {
    const byParent = new Map();
    for (const s of machine.graph.states) {
      if (s.parent === null) continue;
      (byParent.get(s.parent) ?? byParent.set(s.parent, []).get(s.parent)).push(s);
    }
    const boxes = new Map();
    const measure = (s) => {
      const kids = byParent.get(s.path) ?? [];
      if (!kids.length) {
        const w = Math.max(96, s.key.length * 7.4 + 24);
        boxes.set(s.path, { s, w, h: BOX_H, kids });
        return boxes.get(s.path);
      }
      for (const k of kids) measure(k);
      const per = s.type === "parallel" ? kids.length : PER_ROW;
      const rows = [];
      for (let i = 0; i < kids.length; i += per) rows.push(kids.slice(i, i + per));
      const w = Math.max(...rows.map((r) => r.reduce((t, k) => t + boxes.get(k.path).w, 0) + GAP * (r.length - 1))) + PAD * 2;
      const h = rows.reduce((t, r) => t + Math.max(...r.map((k) => boxes.get(k.path).h)), 0) + VGAP * (rows.length - 1) + PAD * 2 + HEAD;
      boxes.set(s.path, { s, w: Math.max(w, s.key.length * 7.4 + 30), h, kids, rows });
      return boxes.get(s.path);
    };
    const place = (path, x, y) => {
      const b = boxes.get(path);
      b.x = x;
      b.y = y;
      if (!b.rows) return;
      let cy = y + HEAD + PAD;
      for (const row of b.rows) {
        let cx = x + PAD;
        for (const k of row) {
          place(k.path, cx, cy);
          cx += boxes.get(k.path).w + GAP;
        }
        cy += Math.max(...row.map((k) => boxes.get(k.path).h)) + VGAP;
      }
    };
    const root = machine.graph.states.find((s) => s.parent === null);
    measure(root);
    place(root.path, 8, 8);
    return { boxes, root };
  }

  /** Where an arrow leaves and enters two boxes, and its curve's control point (the `n`th between them). */
  function route(from, to, n) {
    const cy = (b) => b.y + b.h / 2;
    if (from === to) {
      const x = from.x + from.w - 12;
      return { x1: x - 20, y1: from.y, x2: x, y2: from.y, mx: x - 10, my: from.y - 34 - n * 12 };
    }
    const contains = (a, b) => b.x >= a.x && b.x + b.w <= a.x + a.w && b.y >= a.y && b.y + b.h <= a.y + a.h;
    const sameRow = !contains(from, to) && !contains(to, from) && from.y < to.y + to.h && to.y < from.y + from.h;
    if (sameRow) {
      const right = to.x > from.x;
      const x1 = right ? from.x + from.w : from.x;
      const x2 = right ? to.x : to.x + to.w;
      const y1 = cy(from) + (right ? -6 : 6);
      const y2 = cy(to) + (right ? -6 : 6);
      return { x1, y1, x2, y2, mx: (x1 + x2) / 2, my: (y1 + y2) / 2 + (right ? -1 : 1) * (22 + n * 26), below: !right };
    }
    const down = cy(to) > cy(from);
    const x1 = from.x + from.w / 2 + n * 14;
    const x2 = to.x + to.w / 2 - n * 14;
    const y1 = down ? from.y + from.h : from.y;
    const y2 = down ? to.y : to.y + to.h;
    return { x1, y1, x2, y2, mx: (x1 + x2) / 2 + 30 + n * 20, my: (y1 + y2) / 2 };
  }

  function renderChart() {
    const m = state.machine,
      a = state.actor;
    const { boxes, root } = layout(m);
    const rb = boxes.get(root.path);
    const chart = svg("svg", { width: rb.w + 16, height: rb.h + 16, role: "img", "aria-label": `statechart of ${m.type}` });
    const defs = svg("defs"),
      marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#5c6f82" }));
    defs.append(marker);
    chart.append(defs);
    const live = new Set(activePaths(a.state));
    const past = state.past ? new Set(activePaths(state.past.to)) : null;
    const draw = (path) => {
      const b = boxes.get(path),
        s = b.s;
      const on = past ? past.has(path) : live.has(path);
      const g = svg("g", { class: `st ${s.type}${on ? (past ? " pastactive" : " active") : ""}`, "data-path": path || "(root)" });
      g.append(svg("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: s.type === "atomic" || s.type === "final" ? 8 : 12 }));
      const t = svg("text", {
        x: b.x + (b.kids.length ? 10 : b.w / 2),
        y: b.y + (b.kids.length ? 15 : b.h / 2 + 4),
        "text-anchor": b.kids.length ? "start" : "middle",
      });
      t.textContent = (path === "" ? m.graph.id : s.key) + (s.type === "parallel" ? " ∥" : "");
      g.append(t);
      const internal = m.graph.transitions.filter((tr) => tr.source === path && tr.targets.length === 0);
      const title = svg("title");
      title.textContent =
        `${path || m.graph.id} (${s.type})` +
        (internal.length ? `\nhandles without moving: ${[...new Set(internal.map((tr) => tr.event + (tr.guard ? ` [${tr.guard}]` : "")))].join(", ")}` : "");
      g.append(title);
      chart.append(g);
      for (const k of b.kids) draw(k.path);
      if (s.initial && boxes.get(s.initial)) {
        const ib = boxes.get(s.initial);
        chart.append(svg("circle", { cx: ib.x - 5, cy: ib.y + 8, r: 4, fill: "#8a98a8" }));
      }
    };
    draw(root.path);
    const fired = state.fired && Date.now() - state.fired.at < 4000 ? state.fired.event : null;
    const seen = new Map();
    for (const tr of m.graph.transitions) {
      for (const target of tr.targets) {
        const from = boxes.get(tr.source),
          to = boxes.get(target);
        if (!from || !to) continue;
        const n = seen.get(`${tr.source}>${target}`) ?? 0;
        seen.set(`${tr.source}>${target}`, n + 1);
        const { x1, y1, x2, y2, mx, my, below } = route(from, to, n);
        const g = svg("g", { class: `tr${fired === tr.event ? " fired" : ""}`, "data-event": tr.event });
        g.append(svg("path", { d: `M ${x1} ${y1} Q ${mx} ${my} ${x2} ${y2}`, "marker-end": "url(#arrow)" }));
        const label = svg("text", { x: (x1 + 2 * mx + x2) / 4, y: (y1 + 2 * my + y2) / 4 + (below ? 11 : -3), "text-anchor": "middle" });
        label.textContent = tr.event.replace(/^xstate\./, "") + (tr.guard ? ` [${tr.guard}]` : "");
        g.append(label);
        chart.append(g);
      }
    }
    $("#chart").replaceChildren(chart);
  }

  // ---- history / time travel ----
  async function loadHistory() {
    const a = state.actor;
    let body;
    try {
      body = await api(`/inspector/api/actors/${encodeURIComponent(a.type)}/${encodeURIComponent(a.id)}/history?limit=100`);
    } catch (err) {
      if (err.status === 404) body = { items: [], replay: "unavailable" };
      else return;
    }
    if (state.actor !== a) return;
    state.history = body;
    $("#replay").textContent = body.replay === "exact" ? "contexts exact" : body.replay === "approximate" ? "contexts approximate" : "contexts unavailable";
    $("#replay").title = body.reason ?? "";
    $("#history ol").replaceChildren(
      ...body.items.map((item) =>
        el(
          "li",
          { "data-seq": item.seq, class: state.past?.seq === item.seq ? "on" : "", onclick: () => travel(item) },
          el("span", { class: "seq mono" }, `#${item.seq}`),
          el("span", { class: "chip" }, item.event?.type ?? "?"),
          el("span", { class: "mono" }, stateText(item.to).join(", ")),
          el("span", { class: "when" }, new Date(item.at).toLocaleTimeString()),
        ),
      ),
    );
    if (!body.items.length) $("#history ol").append(el("li", { class: "empty" }, "no transitions journalled"));
  }

  function travel(item) {
    state.past = item;
    for (const li of document.querySelectorAll("#history li")) li.classList.toggle("on", Number(li.dataset.seq) === item.seq);
    $("#travel-banner").classList.remove("hidden");
    $("#travel-text").textContent =
      `Viewing the past: #${item.seq} ${item.event?.type ?? ""} at ${new Date(item.at).toLocaleString()} → ${stateText(item.to).join(", ")}`;
    $("#ctx-title").textContent = `Context after #${item.seq}`;
    $("#context").replaceChildren(item.context === null ? el("div", { class: "empty" }, state.history?.reason ?? "not rebuilt") : jsonTree(item.context));
    $("#past").classList.remove("hidden");
    $("#past-title").textContent = `#${item.seq}: ${item.from === null ? "(start)" : stateText(item.from).join(", ")} → ${stateText(item.to).join(", ")}`;
    $("#past-event").replaceChildren(jsonTree(item.event));
    const diff = item.diff_to_next;
    $("#past-diff").replaceChildren(
      ...(diff === null
        ? [el("tr", {}, el("td", { class: "empty" }, "latest transition (or contexts unavailable)"))]
        : diff.length === 0
          ? [el("tr", {}, el("td", { class: "empty" }, "context unchanged by the next transition"))]
          : [
              el("tr", {}, el("th", {}, "path"), el("th", {}, "before"), el("th", {}, "after")),
              ...diff.map((d) =>
                el(
                  "tr",
                  {},
                  el("td", {}, d.path),
                  el("td", { class: "before" }, JSON.stringify(d.before)),
                  el("td", { class: "after" }, JSON.stringify(d.after)),
                ),
              ),
            ]),
    );
    renderChart();
  }
  $("#travel-back").addEventListener("click", () => {
    state.past = null;
    $("#travel-banner").classList.add("hidden");
    $("#past").classList.add("hidden");
    for (const li of document.querySelectorAll("#history li")) li.classList.remove("on");
    renderActor();
    renderChart();
  });

  // ---- what if ----
  function acceptedEvents() {
    const live = new Set(["", ...activePaths(state.actor.state)]);
    const events = new Set(
      state.machine.graph.transitions.filter((t) => live.has(t.source) && t.event !== "always" && !t.event.startsWith("xstate.")).map((t) => t.event),
    );
    return [...events].sort();
  }
  function renderWhatIfChoices() {
    const select = $("#wi-event"),
      before = select.value;
    // A machine that reached its final state takes no events.
    const events = state.actor.status === "active" ? acceptedEvents() : [];
    const key = `${state.machine.type}|${events.join(",")}`;
    // Unchanged choices keep the form as the user filled it (live transitions arrive meanwhile).
    if (select.dataset.key === key) return;
    select.dataset.key = key;
    select.replaceChildren(...events.map((e) => el("option", { value: e }, e + (state.machine.events.some((x) => x.type === e) ? "" : " (no schema)"))));
    if (events.includes(before)) {
      select.value = before;
      return;
    }
    renderWhatIfFields();
  }
  const resolve = (schema) => (schema?.$ref ? (state.machine.defs[schema.$ref.split("/").pop()] ?? {}) : (schema ?? {}));
  function renderWhatIfFields() {
    const type = $("#wi-event").value;
    if (!type) {
      $("#wi-fields").replaceChildren(el("span", { class: "empty" }, `no event to try: the actor is ${state.actor.status} in its final state`));
      return;
    }
    const spec = state.machine.events.find((e) => e.type === type);
    const box = $("#wi-fields");
    if (!spec) {
      box.replaceChildren(el("label", {}, el("span", {}, "fields (JSON)"), el("textarea", { id: "wi-json", rows: "3", class: "mono" }, "{}")));
      return;
    }
    const required = new Set(spec.schema.required ?? []);
    const fields = Object.entries(spec.schema.properties ?? {}).filter(([name]) => name !== "type");
    if (!fields.length) {
      box.replaceChildren(el("span", { class: "empty" }, "no fields"));
      return;
    }
    box.replaceChildren(
      ...fields.map(([name, raw]) => {
        const s = resolve(raw);
        const options =
          s.enum ??
          (s.anyOf ?? [])
            .map((b) => resolve(b))
            .filter((b) => "const" in b || b.enum)
            .flatMap((b) => b.enum ?? [b.const]);
        const input = options.length
          ? el(
              "select",
              { name },
              ...(required.has(name) ? [] : [el("option", { value: "" }, "—")]),
              ...options.map((o) => el("option", { value: JSON.stringify(o) }, String(o))),
            )
          : el("input", {
              name,
              type: s.type === "integer" || s.type === "number" ? "number" : "text",
              step: s.type === "integer" ? "1" : "any",
              placeholder: s.type === "string" || s.type === "integer" || s.type === "number" ? s.type : "JSON, e.g. {} or []",
            });
        input.dataset.kind = options.length ? "enum" : s.type === "string" || s.type === "integer" || s.type === "number" ? s.type : "json";
        return el("label", {}, el("span", {}, name, required.has(name) ? " *" : " ", el("small", {}, s.type ?? "")), input);
      }),
    );
  }
  $("#wi-event").addEventListener("change", renderWhatIfFields);
  $("#whatif").addEventListener("submit", async (e) => {
    e.preventDefault();
    const type = $("#wi-event").value;
    if (!type) return;
    const event = { type };
    $("#wi-error").textContent = "";
    try {
      if ($("#wi-json")) Object.assign(event, JSON.parse($("#wi-json").value || "{}"), { type });
      for (const input of document.querySelectorAll("#wi-fields [name]")) {
        if (input.value === "") continue;
        event[input.name] =
          input.dataset.kind === "enum" || input.dataset.kind === "json"
            ? JSON.parse(input.value)
            : input.dataset.kind === "integer" || input.dataset.kind === "number"
              ? Number(input.value)
              : input.value;
      }
    } catch {
      $("#wi-error").textContent = "fields are not valid JSON";
      return;
    }
    const a = state.actor;
    try {
      const r = await api(`/inspector/api/actors/${encodeURIComponent(a.type)}/${encodeURIComponent(a.id)}/what-if`, {
        method: "POST",
        body: JSON.stringify({ event }),
      });
      $("#wi-result").classList.remove("hidden");
      $("#wi-result").replaceChildren(
        el(
          "div",
          { class: "row-flex" },
          "from ",
          ...stateText(r.from).map((s) => el("span", { class: "chip state" }, s)),
          " → ",
          ...stateText(r.state).map((s) => el("span", { class: "chip warn" }, s)),
          r.validated ? "" : el("span", { class: "chip" }, "unvalidated"),
        ),
        el("h2", { style: "margin-top:10px" }, "Context diff"),
        r.diff.length
          ? el(
              "table",
              { class: "diff" },
              el("tr", {}, el("th", {}, "path"), el("th", {}, "before"), el("th", {}, "after")),
              ...r.diff.map((d) =>
                el(
                  "tr",
                  {},
                  el("td", {}, d.path),
                  el("td", { class: "before" }, JSON.stringify(d.before)),
                  el("td", { class: "after" }, JSON.stringify(d.after)),
                ),
              ),
            )
          : el("div", { class: "empty" }, "no change"),
        el("h2", { style: "margin-top:10px" }, "Effects it would have"),
        r.actions.length ? el("div", { class: "json" }, jsonTree(r.actions)) : el("div", { class: "empty" }, "none"),
        el("div", { class: "meta", style: "margin-top:8px" }, "Computed with XState's pure transition on a copy of the snapshot; nothing was applied."),
      );
    } catch (err) {
      const fields = err.body?.details?.fields;
      $("#wi-error").textContent = fields ? fields.map((f) => `${f.path}: ${f.message}`).join("; ") : err.message;
    }
  });

  // ---- live feed ----
  function openFeed() {
    if (state.feed) return;
    const kind = $("#feed-kind").value.trim(),
      id = $("#feed-id").value.trim();
    const q = new URLSearchParams({ ...(kind ? { kind } : {}), ...(id ? { id } : {}) });
    state.feed = stream(`/inspector/api/feed?${q}`, onFeedRecord, (s) => ($("#feed-status").textContent = s));
  }
  function closeFeed() {
    state.feed?.();
    state.feed = null;
  }
  function onFeedRecord(r) {
    if (state.feedPaused) return;
    const list = $("#feed ol");
    const li = el(
      "li",
      { class: "flash" },
      el("span", { class: "mono" }, new Date(r.at).toLocaleTimeString()),
      el("span", { class: "chip" }, r.type),
      el(
        "a",
        {
          href: "#",
          onclick: (e) => {
            e.preventDefault();
            openActor(r.type, r.id);
          },
        },
        r.id,
      ),
      el("span", {}, el("span", { class: "chip warn" }, r.event.type), " → ", stateText(r.state).join(", ")),
      el("span", { class: "meta" }, r.instance + (r.dropped ? ` (+${r.dropped} sampled out)` : "")),
    );
    li.dataset.instance = r.instance;
    li.dataset.actor = `${r.type}/${r.id}`;
    list.prepend(li);
    while (list.children.length > 300) list.lastChild.remove();
  }
  $("#feed-apply").addEventListener("click", () => {
    closeFeed();
    openFeed();
  });
  $("#feed-pause").addEventListener("click", () => {
    state.feedPaused = !state.feedPaused;
    $("#feed-pause").textContent = state.feedPaused ? "Resume" : "Pause";
  });
  $("#feed-clear").addEventListener("click", () => $("#feed ol").replaceChildren());

  // ---- cluster ----
  async function loadCluster() {
    const c = await api("/inspector/api/cluster");
    $("#cluster-meta").replaceChildren(
      el("span", {}, "mode ", el("b", {}, c.mode)),
      el("span", {}, "answered by ", el("b", {}, c.instance)),
      el("span", {}, "shards ", el("b", {}, c.shard_count)),
    );
    const byInstance = new Map(c.instances.map((i) => [i.instance, i]));
    const names = [...new Set([...c.members, ...c.instances.map((i) => i.instance)])].sort();
    $("#cluster-members").replaceChildren(
      el("tr", {}, el("th", {}, "member"), el("th", {}, "active actors"), el("th", {}, "shards")),
      ...names.map((n) => {
        const active = byInstance.get(n)?.active ?? {};
        const shards = c.shards[n] ?? [];
        return el(
          "tr",
          { "data-member": n },
          el("td", {}, el("b", {}, n), c.members.includes(n) ? "" : el("span", { class: "chip warn" }, "not live")),
          el("td", {}, ...Object.entries(active).map(([k, v]) => el("span", { class: "chip" }, `${k} ${v}`))),
          el(
            "td",
            {},
            c.mode === "embedded"
              ? "all (embedded)"
              : el("div", { class: "shards" }, `${shards.length}: `, ...shards.map((s) => el("span", { class: "shard" }, s))),
          ),
        );
      }),
    );
    const handovers = c.instances
      .flatMap((i) => i.handovers.map((h) => ({ ...h, instance: i.instance })))
      .sort((a, b) => b.at.localeCompare(a.at))
      .slice(0, 50);
    $("#cluster-handovers").replaceChildren(
      ...(handovers.length
        ? [
            el("tr", {}, el("th", {}, "at"), el("th", {}, "member"), el("th", {}, "event"), el("th", {}, "shard")),
            ...handovers.map((h) =>
              el("tr", {}, el("td", {}, new Date(h.at).toLocaleTimeString()), el("td", {}, h.instance), el("td", {}, h.event), el("td", {}, h.shard)),
            ),
          ]
        : [el("tr", {}, el("td", { class: "empty" }, "none recorded"))]),
    );
  }

  if (state.token)
    api("/inspector/api/kinds", { quiet: true }).then(
      () => start(),
      () => logout(),
    );
})();
