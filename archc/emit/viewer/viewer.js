// archc network page. Reads the JSON document in #archc-data (archc/emit/html.py), lays out the
// visible boxes as nested layered graphs (each open block is laid out inside its own box),
// and draws them as SVG. Every string from the spec goes in through textContent, never as markup.
"use strict";
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const DATA = JSON.parse(document.getElementById("archc-data").textContent);
  const FILL = { conv: "#dbe9f6", pool: "#fde5c8", norm: "#dff0d8", activation: "#f5f5f5", linear: "#e8def3", shape: "#ffffff" };
  const RANK_GAP = 34, ITEM_GAP = 22, PAD = 10, HEADER = 20, LANE = 10;

  const nodes = {}, clusters = {}, rootItems = [];
  DATA.nodes.forEach(n => { nodes[n.id] = n; });
  DATA.clusters.forEach(c => { clusters[c.id] = c; c.items = []; });
  const isOpen = {};
  DATA.clusters.forEach(c => { isOpen[c.id] = c.open; });
  DATA.nodes.concat(DATA.clusters).sort((a, b) => a.order - b.order).forEach(item => {
    (item.parent ? clusters[item.parent].items : rootItems).push(item.id);
  });
  const item = id => nodes[id] || clusters[id];

  // the chain of blocks around a box, outermost first
  function ancestors(id) {
    const out = [];
    for (let p = item(id).parent; p; p = clusters[p].parent) out.unshift(p);
    return out;
  }
  // what stands for a box on screen: itself, or the outermost closed block around it
  function visible(id) {
    for (const c of ancestors(id)) if (!isOpen[c]) return c;
    return id;
  }

  const measure = document.createElement("canvas").getContext("2d");
  function textWidth(text, px, bold) {
    measure.font = (bold ? "bold " : "") + px + "px system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif";
    return measure.measureText(text).width;
  }

  // ---- layout -------------------------------------------------------------------------------
  // size of one box; open blocks are laid out (recursively) to know theirs
  function sizeOf(id) {
    const n = nodes[id];
    if (n) {
      if (n.role === "merge") return n.label.length === 1 ? { w: 24, h: 24 } : { w: textWidth(n.label, 11) + 14, h: 22 };
      const w = Math.max(textWidth(n.label, 12, n.role !== "layer"), n.detail ? textWidth(n.detail, 10) : 0);
      return { w: w + 18, h: n.detail ? 36 : 24 };
    }
    const c = clusters[id];
    if (!isOpen[id]) {
      const detail = collapsedDetail(c);
      return { w: Math.max(textWidth("⊞ " + c.title, 12, true), textWidth(detail, 10)) + 22, h: 38 };
    }
    c.layout = layoutGroup(c.items, id);
    return { w: Math.max(c.layout.w + 2 * PAD, textWidth("⊟ " + c.title, 11) + 2 * PAD), h: c.layout.h + HEADER + PAD };
  }
  function collapsedDetail(c) {
    const params = typeof c.params === "number" && c.params ? c.params.toLocaleString("en-US") + " params" + (c.repeat > 1 ? " each" : "") : "";
    return [c.out, params].filter(Boolean).join(" · ");
  }

  // which of this group's items holds box `id` (undefined: it lies outside the group)
  function memberOf(id, group) {
    const chain = ancestors(id).concat([id]);
    const i = chain.indexOf(group);
    const candidate = group === null ? chain[0] : chain[i + 1];
    if (group !== null && i < 0) return undefined;
    return candidate;
  }

  // lay out the items of one block (or of the page, group null) in ranks, top to bottom;
  // an edge that skips ranks gets a lane of dummies so that it runs beside the boxes, not through them
  function layoutGroup(itemIds, group) {
    const boxes = {};
    itemIds.forEach(id => { boxes[id] = Object.assign({ id: id, dummy: false }, sizeOf(id)); });
    const inGroup = new Set(itemIds);
    const links = [], crossing = [];
    DATA.edges.forEach((e, index) => {
      const a = memberOf(e.src, group), b = memberOf(e.dst, group);
      const ia = a !== undefined && inGroup.has(a), ib = b !== undefined && inGroup.has(b);
      if (ia && ib && a !== b) links.push({ a: a, b: b, index: index });
      else if (ia !== ib) crossing.push({ a: ia ? a : null, b: ib ? b : null, index: index });
    });
    // ranks: longest path from the group's sources (Kahn's order; the diagram is acyclic)
    const rank = {}, indeg = {}, succ = {};
    itemIds.forEach(id => { rank[id] = 0; indeg[id] = 0; succ[id] = []; });
    links.forEach(l => { indeg[l.b] += 1; succ[l.a].push(l.b); });
    const queue = itemIds.filter(id => indeg[id] === 0);
    while (queue.length) {
      const id = queue.shift();
      succ[id].forEach(s => { rank[s] = Math.max(rank[s], rank[id] + 1); if (--indeg[s] === 0) queue.push(s); });
    }
    let top = 0;
    itemIds.forEach(id => { top = Math.max(top, rank[id]); });
    const rows = [];
    for (let r = 0; r <= top; r++) rows.push([]);
    itemIds.forEach(id => rows[rank[id]].push(boxes[id]));
    const preds = new Map(); // box -> boxes in the rank above that feed it
    const feed = (from, to) => { if (!preds.has(to)) preds.set(to, []); preds.get(to).push(from); };
    const lane = (index, r, prev) => {
      const d = { id: "d" + index + "_" + r + "_" + String(group), dummy: true, edge: index, w: LANE, h: 0 };
      rows[r].push(d);
      if (prev) feed(prev, d);
      return d;
    };
    const dummies = [];
    links.forEach(l => {
      let prev = boxes[l.a];
      for (let r = rank[l.a] + 1; r < rank[l.b]; r++) { prev = lane(l.index, r, prev); dummies.push(prev); }
      feed(prev, boxes[l.b]);
    });
    crossing.forEach(c => { // from above the group to a box below its first rank, or from a box to below the group
      if (c.b !== null) { let prev = null; for (let r = 0; r < rank[c.b]; r++) { prev = lane(c.index, r, prev); dummies.push(prev); } if (prev) feed(prev, boxes[c.b]); }
      else { let prev = boxes[c.a]; for (let r = rank[c.a] + 1; r <= top; r++) { prev = lane(c.index, r, prev); dummies.push(prev); } }
    });
    // order within ranks: build order, then each box under the average position of what feeds it
    rows.forEach(row => row.forEach((b, i) => { b.pos = i; }));
    for (let r = 1; r <= top; r++) {
      rows[r].forEach(b => {
        const p = preds.get(b);
        if (p && p.length) b.pos = p.reduce((s, x) => s + x.pos, 0) / p.length + (b.dummy ? 0.01 : 0);
      });
      rows[r].sort((x, y) => x.pos - y.pos);
      rows[r].forEach((b, i) => { b.pos = i; });
    }
    // coordinates: rows stacked, each centred
    let y = 0, width = 0;
    const widths = rows.map(row => row.reduce((s, b) => s + b.w, 0) + ITEM_GAP * Math.max(0, row.length - 1));
    widths.forEach(w => { width = Math.max(width, w); });
    rows.forEach((row, r) => {
      const h = row.reduce((m, b) => Math.max(m, b.h), 0) || 12;
      let x = (width - widths[r]) / 2;
      row.forEach(b => { b.x = x; b.y = b.dummy ? y : y + (h - b.h) / 2; if (b.dummy) b.h = h; x += b.w + ITEM_GAP; });
      y += h + RANK_GAP;
    });
    // a skip's lane runs straight down at its rightmost place, where no box is in the way
    const chains = {};
    dummies.forEach(d => { (chains[d.edge] = chains[d.edge] || []).push(d); });
    Object.values(chains).forEach(chain => {
      const x = Math.max(...chain.map(d => d.x));
      const clear = chain.every(d => rows.every(row => row.indexOf(d) < 0 ||
        row.every(b => b === d || b.x + b.w < d.x || b.x > x + d.w + 2)));
      if (clear) chain.forEach(d => { d.x = x; });
    });
    return { w: width, h: Math.max(0, y - RANK_GAP), boxes: boxes, dummies: dummies };
  }

  // absolute positions of every visible box, cluster frame and edge lane
  function place(layout, ox, oy, out) {
    Object.values(layout.boxes).forEach(b => {
      const x = ox + b.x, y = oy + b.y;
      out.boxes[b.id] = { x: x, y: y, w: b.w, h: b.h };
      const c = clusters[b.id];
      if (c && isOpen[b.id]) {
        out.frames.push({ id: b.id, x: x, y: y, w: b.w, h: b.h });
        place(c.layout, x + (b.w - c.layout.w) / 2, y + HEADER, out);
      }
    });
    layout.dummies.forEach(d => {
      (out.lanes[d.edge] = out.lanes[d.edge] || []).push({ x: ox + d.x + d.w / 2, top: oy + d.y, bottom: oy + d.y + d.h });
    });
  }

  // ---- drawing ------------------------------------------------------------------------------
  const svg = document.getElementById("canvas"), viewport = document.getElementById("viewport");
  const panel = document.getElementById("panel");
  let view = { x: 20, y: 20, k: 1 }, geometry = null, selected = null, pinned = null;
  const el = (tag, attrs, parent) => {
    const e = document.createElementNS(SVGNS, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    if (parent) parent.appendChild(e);
    return e;
  };
  const text = (content, attrs, parent) => { const t = el("text", attrs, parent); t.textContent = content; return t; };

  function render() {
    const layout = layoutGroup(rootItems, null);
    geometry = { boxes: {}, frames: [], lanes: {}, w: layout.w, h: layout.h };
    place(layout, 0, 0, geometry);
    viewport.textContent = "";
    const frames = el("g", {}, viewport), edges = el("g", {}, viewport), boxes = el("g", {}, viewport);
    geometry.frames.forEach(f => {
      const c = clusters[f.id], g = el("g", { class: "cluster", "data-cluster": f.id }, frames);
      el("rect", { x: f.x, y: f.y, width: f.w, height: f.h, rx: 6, fill: "rgba(120,120,120,0.04)", stroke: "#999", "stroke-dasharray": "4 3" }, g);
      const header = el("g", { class: "header", "data-toggle": f.id }, g);
      el("rect", { x: f.x, y: f.y, width: f.w, height: HEADER, fill: "transparent", stroke: "none" }, header);
      text("⊟ " + c.title, { x: f.x + 6, y: f.y + 14 }, header);
    });
    DATA.edges.forEach((e, index) => drawEdge(e, index, edges));
    Object.entries(geometry.boxes).forEach(([id, b]) => { if (!(clusters[id] && isOpen[id])) drawBox(id, b, boxes); });
    applyView();
    highlight();
  }

  function drawEdge(e, index, parent) {
    const a = visible(e.src), b = visible(e.dst);
    if (a === b) return; // inside a closed block
    const s = geometry.boxes[a], d = geometry.boxes[b];
    if (!s || !d) return;
    const points = [{ x: s.x + s.w / 2, y: s.y + s.h }];
    (geometry.lanes[index] || []).slice().sort((p, q) => p.top - q.top).forEach(l => {
      // a lane belongs to the edge only where both its ends are visible as laid out
      if (l.top >= points[points.length - 1].y - 0.5 && l.bottom <= d.y + 0.5) {
        points.push({ x: l.x, y: l.top }, { x: l.x, y: l.bottom });
      }
    });
    points.push({ x: d.x + d.w / 2, y: d.y });
    let path = "M" + points[0].x + "," + points[0].y;
    for (let i = 1; i < points.length; i++) {
      const p = points[i - 1], q = points[i], m = (p.y + q.y) / 2;
      path += p.x === q.x ? " L" + q.x + "," + q.y : " C" + p.x + "," + m + " " + q.x + "," + m + " " + q.x + "," + q.y;
    }
    const g = el("g", { class: "edge" + (e.shortcut ? " shortcut" : ""), "data-src": a, "data-dst": b }, parent);
    el("path", { d: path, "marker-end": "url(#arrow" + (e.shortcut ? "-red" : "") + ")" }, g);
    // the shape sits where it cannot be confused: by the arrow's head, unless several arrows
    // meet there (then by its tail, or half way when several also leave the tail)
    const fanIn = DATA.edges.filter(x => visible(x.dst) === b && visible(x.src) !== b).length > 1;
    const fanOut = DATA.edges.filter(x => visible(x.src) === a && visible(x.dst) !== a).length > 1;
    const at = !fanIn ? points.length - 1 : !fanOut ? 1 : Math.max(1, Math.floor(points.length / 2));
    const p = points[at - 1], q = points[at];
    text(e.shape, { x: (p.x + q.x) / 2 + 4, y: Math.max(p.y + 11, (p.y + q.y) / 2 + 4) }, g);
  }

  function drawBox(id, b, parent) {
    const n = nodes[id];
    const g = el("g", { class: "node", "data-id": id }, parent);
    if (n && n.role === "merge" && n.label.length === 1) {
      el("circle", { cx: b.x + b.w / 2, cy: b.y + b.h / 2, r: b.w / 2, fill: "#fff3b0" }, g);
      text(n.label, { x: b.x + b.w / 2, y: b.y + b.h / 2 + 4, "text-anchor": "middle" }, g);
    } else if (n) {
      const fill = n.role === "merge" ? "#fff3b0" : n.role === "io" ? "#eeeeee" : FILL[n.family] || "#ffffff";
      el("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: n.role === "merge" ? 11 : 5, fill: fill }, g);
      text(n.label, { x: b.x + b.w / 2, y: b.y + 16, "text-anchor": "middle", "font-weight": n.role === "layer" ? "normal" : "bold" }, g);
      if (n.detail) text(n.detail, { x: b.x + b.w / 2, y: b.y + 29, "text-anchor": "middle", class: "detail" }, g);
    } else {
      const c = clusters[id];
      g.setAttribute("data-toggle", id);
      el("rect", { x: b.x + 3, y: b.y + 3, width: b.w, height: b.h, rx: 5, fill: "#f1e5c0" }, g);
      el("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 5, fill: "#fff8e1" }, g);
      text("⊞ " + c.title, { x: b.x + b.w / 2, y: b.y + 16, "text-anchor": "middle", "font-weight": "bold" }, g);
      text(collapsedDetail(c), { x: b.x + b.w / 2, y: b.y + 30, "text-anchor": "middle", class: "detail" }, g);
    }
  }

  function applyView() {
    viewport.setAttribute("transform", "translate(" + view.x + "," + view.y + ") scale(" + view.k + ")");
  }
  // whole: the whole drawing in the window; otherwise its width, at most life size, from the top
  function fit(whole) {
    const r = svg.getBoundingClientRect();
    const across = (r.width - 40) / Math.max(1, geometry.w), down = (r.height - 40) / Math.max(1, geometry.h);
    const k = whole === false ? Math.min(1, across) : Math.min(1.2, across, down);
    view = { k: Math.max(k, 0.05), x: 0, y: 20 };
    view.x = (r.width - geometry.w * view.k) / 2;
    applyView();
  }
  function centreOn(id) {
    const b = geometry.boxes[id], r = svg.getBoundingClientRect();
    if (!b) return;
    view.k = Math.max(view.k, 0.8);
    view.x = r.width / 2 - (b.x + b.w / 2) * view.k;
    view.y = r.height / 2 - (b.y + b.h / 2) * view.k;
    applyView();
  }
  function zoom(factor, cx, cy) {
    const k = Math.min(8, Math.max(0.03, view.k * factor));
    view.x = cx - (cx - view.x) * (k / view.k);
    view.y = cy - (cy - view.y) * (k / view.k);
    view.k = k;
    applyView();
  }

  // ---- side panel ---------------------------------------------------------------------------
  function show(id) {
    panel.textContent = "";
    if (!id) return;
    const n = item(id);
    const h = document.createElement("h2");
    h.textContent = n.path || n.label || n.title;
    panel.appendChild(h);
    const table = document.createElement("table");
    const row = (k, v) => {
      if (v === undefined || v === null || v === "") return;
      const tr = table.insertRow(), th = document.createElement("th"), td = tr.insertCell();
      th.textContent = k; tr.insertBefore(th, td); td.textContent = String(v);
    };
    const num = v => (typeof v === "number" ? v.toLocaleString("en-US") : v);
    row("layer", n.label || n.title);
    row("kind", n.kind);
    if (n.args) Object.entries(n.args).forEach(([k, v]) => row("  " + k, typeof v === "object" ? JSON.stringify(v) : v));
    row("repeats", n.repeat > 1 ? "×" + n.repeat + " (identical blocks, drawn once)" : "");
    row("input", n.in);
    row("output", n.out);
    row("parameters", num(n.params));
    row("MACs", num(n.macs));
    if (n.trainable === false) row("trainable", "no (frozen)");
    row("defined at", n.loc);
    panel.appendChild(table);
    if (n.explain && n.explain.length) {
      const pre = document.createElement("pre");
      pre.className = "explain";
      pre.textContent = n.explain.join("\n");
      panel.appendChild(pre);
    }
  }

  // ---- search -------------------------------------------------------------------------------
  const search = document.getElementById("search"), hits = document.getElementById("hits");
  let matches = [], current = -1;
  function find(query) {
    const q = query.trim().toLowerCase();
    matches = !q ? [] : DATA.nodes.concat(DATA.clusters).filter(n => n.role !== "io" && n.role !== "merge" &&
      [n.path, n.label, n.title].some(s => s && s.toLowerCase().includes(q))).map(n => n.id);
    current = -1;
    next();
  }
  function next() {
    if (matches.length) {
      current = (current + 1) % matches.length;
      const target = matches[current];
      ancestors(target).forEach(c => { isOpen[c] = true; });
      if (clusters[target]) isOpen[target] = false; // a found block is shown as one box
      render();
      centreOn(target);
      show(target);
    } else highlight();
    hits.textContent = search.value.trim() ? (matches.length ? current + 1 + "/" + matches.length : "none") : "";
  }
  function highlight() {
    const visibleMatches = new Set(matches.map(visible));
    viewport.querySelectorAll(".node").forEach(g => {
      const id = g.getAttribute("data-id");
      g.classList.toggle("match", visibleMatches.has(id));
      g.classList.toggle("current", current >= 0 && matches[current] === id);
      g.classList.toggle("selected", id === selected);
    });
  }

  // ---- interaction --------------------------------------------------------------------------
  function toggle(id) { isOpen[id] = !isOpen[id]; render(); }
  let drag = null, moved = false;
  svg.addEventListener("pointerdown", e => { drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y }; moved = false; });
  window.addEventListener("pointermove", e => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { moved = true; svg.classList.add("dragging"); }
    view.x = drag.vx + dx; view.y = drag.vy + dy; applyView();
  });
  window.addEventListener("pointerup", () => { drag = null; svg.classList.remove("dragging"); });
  svg.addEventListener("wheel", e => {
    e.preventDefault();
    const r = svg.getBoundingClientRect();
    zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  svg.addEventListener("click", e => {
    if (moved) return;
    const t = e.target.closest("[data-toggle]");
    if (t) { toggle(t.getAttribute("data-toggle")); return; }
    const n = e.target.closest(".node");
    pinned = selected = n ? n.getAttribute("data-id") : null;
    show(pinned);
    highlight();
  });
  svg.addEventListener("mouseover", e => { const n = e.target.closest(".node"); if (n) show(n.getAttribute("data-id")); });
  svg.addEventListener("mouseout", e => { if (e.target.closest(".node")) show(pinned); });
  search.addEventListener("input", () => find(search.value));
  search.addEventListener("keydown", e => { if (e.key === "Enter") next(); });
  const r = () => svg.getBoundingClientRect();
  document.getElementById("zoom-in").onclick = () => zoom(1.25, r().width / 2, r().height / 2);
  document.getElementById("zoom-out").onclick = () => zoom(0.8, r().width / 2, r().height / 2);
  document.getElementById("fit").onclick = () => fit(true);
  document.getElementById("expand-all").onclick = () => { Object.keys(isOpen).forEach(c => { isOpen[c] = true; }); render(); fit(true); };
  document.getElementById("collapse-all").onclick = () => { Object.keys(isOpen).forEach(c => { isOpen[c] = false; }); render(); fit(true); };

  const defs = el("defs", {}, svg);
  [["arrow", "#666"], ["arrow-red", "#c0392b"]].forEach(([id, colour]) => {
    const m = el("marker", { id: id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: colour }, m);
  });
  const title = document.getElementById("title");
  title.textContent = DATA.name;
  const sub = document.createElement("small");
  const figures = typeof DATA.params === "number" ? DATA.params.toLocaleString("en-US") + " params" : "";
  const macs = typeof DATA.macs === "number" ? DATA.macs.toLocaleString("en-US") + " MACs" : "";
  sub.textContent = [DATA.description, DATA.input + " → " + DATA.output, figures, macs].filter(Boolean).join(" · ");
  title.appendChild(sub);
  title.title = DATA.file;
  render();
  fit(false);

  // ---- self-test: page.html#selftest&cluster=PATH&q=TEXT runs the interactions and writes
  // what it saw into #archc-selftest (read by tests/test_html_viewer.py through --dump-dom)
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("selftest")) {
    const seen = () => ({
      layers: Array.from(viewport.querySelectorAll(".node")).map(g => g.getAttribute("data-id"))
        .filter(id => nodes[id] && nodes[id].role === "layer").map(id => nodes[id].label),
      boxes: viewport.querySelectorAll(".node").length,
      edges: Array.from(viewport.querySelectorAll(".edge text")).map(t => t.textContent),
    });
    const result = { initial: seen() };
    const click = sel => { const t = viewport.querySelector(sel); t.dispatchEvent(new MouseEvent("click", { bubbles: true })); };
    const block = DATA.clusters.find(c => c.path === params.get("cluster"));
    if (block) {
      if (isOpen[block.id]) click('[data-cluster="' + block.id + '"] .header'); // close it first
      result.closed = seen();
      click('.node[data-toggle="' + block.id + '"]');
      result.opened = seen();
      click('[data-cluster="' + block.id + '"] .header');
      result.closedAgain = seen();
    }
    if (params.has("q")) {
      search.value = params.get("q");
      search.dispatchEvent(new Event("input"));
      result.hits = hits.textContent;
      result.current = matches[current] ? item(matches[current]).path : null;
      const target = viewport.querySelector(".node.current");
      if (target) click('.node[data-id="' + target.getAttribute("data-id") + '"]');
      result.panel = panel.innerText;
    }
    result.errors = window.__archcErrors;
    const out = document.getElementById("archc-selftest");
    out.textContent = JSON.stringify(result);
  }
})();
