/* featvec explorer: a 2-D map of a model's vector tables, search with completion, neighbours, user lists.
   Data: window.FEATVEC_MODELS (names) and, per model, data/NAME.js setting window.FEATVEC_DATA[NAME]. */
(function () {
  "use strict";
  const PALETTE = ["#3b7dd8", "#e0663a", "#2a9d6f", "#c23b6e", "#8a5cd1", "#d4a12a", "#1aa3b8", "#7b8f2c",
                   "#b5533c", "#5c6bc0"];
  const OTHER = "#b9c0cc", MISSING = "#dfe3ea";
  const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const $ = (id) => document.getElementById(id);
  const st = { name: null, data: null, table: null, color: null, colors: null, selected: -1, near: new Set(),
               view: { scale: 1, tx: 0, ty: 0 }, hover: -1, index: {} };
  const canvas = $("map"), ctx = canvas.getContext("2d");

  // ---------------------------------------------------------------- loading
  function loadModel(name) {
    window.FEATVEC_DATA = window.FEATVEC_DATA || {};
    if (window.FEATVEC_DATA[name]) return Promise.resolve(window.FEATVEC_DATA[name]);
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "data/" + encodeURIComponent(name) + ".js";
      s.onload = () => window.FEATVEC_DATA[name] ? resolve(window.FEATVEC_DATA[name])
                                                 : reject(new Error("no data for " + name));
      s.onerror = () => reject(new Error("could not load the data of " + name));
      document.head.appendChild(s);
    });
  }

  function useModel(name) {
    $("status").textContent = "loading " + name + "…";
    return loadModel(name).then((data) => {
      st.name = name; st.data = data; st.index = {};
      for (const t of data.tables) {
        const m = new Map();
        t.ids.forEach((id, i) => m.set(String(id), i));
        st.index[t.name] = m;
      }
      fill($("table"), data.tables.map((t) => t.name));
      useTable(data.tables[0].name);
    }).catch((e) => { $("status").textContent = e.message; });
  }

  function tableByName(name) { return st.data.tables.find((t) => t.name === name); }

  function useTable(name, keepSelection) {
    st.table = tableByName(name);
    st.selected = -1; st.near = new Set(); st.hover = -1;  // rows of the table left behind
    $("table").value = name;
    const cols = Object.keys(st.table.meta);
    fill($("color"), ["(none)"].concat(cols));
    const meta = st.table.meta, plainCol = (c) => !/^(title|name|label)$/i.test(c);
    const pref = cols.find((c) => c.startsWith("match: ")) ||
      cols.find((c) => plainCol(c) && !c.startsWith("in ") && distinct(meta[c]) <= 20 && distinct(meta[c]) > 1) ||
      cols.find((c) => plainCol(c) && meta[c].some((v) => typeof v === "number")) || "(none)";
    setColor(pref);
    if (!keepSelection) showHint();
    resetView();
    status();
  }

  function fill(select, values) {
    select.innerHTML = "";
    for (const v of values) {
      const o = document.createElement("option");
      o.value = v; o.textContent = v; select.appendChild(o);
    }
  }

  function distinct(values) { return new Set(values).size; }

  function status() {
    const t = st.table;
    const proj = t.projection === "map" ? "map coordinates"
      : t.projection.toUpperCase() + (t.explained && t.explained.length
        ? " (" + t.explained.map((v) => (100 * v).toFixed(1) + "%").join(" + ") + " of variance)" : "");
    const scope = { table: "over the whole table", all: "over every table", shown: "among the rows shown",
                    approximate: "over the whole table (faiss index, approximate)" }[t.neighbour_scope] || "";
    $("status").textContent = t.name + ": " + t.size.toLocaleString("en") + " rows, " + t.ids.length.toLocaleString("en") +
      " shown · " + proj + " · neighbours " + scope + " · " + st.data.model.kind;
  }

  // ---------------------------------------------------------------- colours
  function setColor(col) {
    st.color = col === "(none)" ? null : col;
    $("color").value = col;
    const t = st.table, legend = $("legend");
    legend.innerHTML = "";
    if (!st.color) { st.colors = t.ids.map(() => PALETTE[0]); legend.hidden = true; draw(); return; }
    legend.hidden = false;
    const vals = t.meta[st.color];
    const nums = vals.filter((v) => typeof v === "number");
    const head = document.createElement("div");
    head.textContent = st.color; head.style.fontWeight = "600";
    legend.appendChild(head);
    if (nums.length && nums.length === vals.filter((v) => v !== null).length && distinct(nums) > 12) {
      let lo = Math.min(...nums), hi = Math.max(...nums);
      if (hi === lo) hi = lo + 1;
      st.colors = vals.map((v) => v === null ? MISSING : ramp((v - lo) / (hi - lo)));
      const bar = document.createElement("div");
      bar.className = "ramp";
      bar.style.background = "linear-gradient(to right," + [0, .25, .5, .75, 1].map(ramp).join(",") + ")";
      const ends = document.createElement("div");
      ends.textContent = fmt(lo) + " … " + fmt(hi);
      legend.append(bar, ends);
    } else {
      const counts = new Map();
      for (const v of vals) if (v !== null) counts.set(v, (counts.get(v) || 0) + 1);
      const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, PALETTE.length).map((e) => e[0]);
      const colour = new Map(top.map((v, i) => [v, PALETTE[i]]));
      st.colors = vals.map((v) => v === null ? MISSING : (colour.get(v) || OTHER));
      for (const v of top) legend.appendChild(swatch(colour.get(v), v + " (" + counts.get(v) + ")"));
      if (counts.size > top.length) legend.appendChild(swatch(OTHER, (counts.size - top.length) + " other values"));
    }
    draw();
  }

  function swatch(colour, text) {
    const d = document.createElement("div"), s = document.createElement("span");
    s.className = "swatch"; s.style.background = colour;
    d.append(s, document.createTextNode(text));
    return d;
  }

  function ramp(t) {
    t = Math.max(0, Math.min(1, t)) * (RAMP.length - 1);
    const i = Math.min(Math.floor(t), RAMP.length - 2), f = t - i;
    const c = RAMP[i].map((a, j) => Math.round(a + f * (RAMP[i + 1][j] - a)));
    return "rgb(" + c.join(",") + ")";
  }

  function fmt(v) { return typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(3)) : String(v); }

  // ---------------------------------------------------------------- drawing
  function size() {
    const r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(r.width * dpr)); canvas.height = Math.max(1, Math.round(r.height * dpr));
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return r;
  }

  function toScreen(p) {
    const r = canvas.getBoundingClientRect(), half = Math.min(r.width, r.height) / 2 * 0.92;
    return [r.width / 2 + (p[0] * st.view.scale) * half + st.view.tx, r.height / 2 - (p[1] * st.view.scale) * half + st.view.ty];
  }

  function draw() {
    if (!st.table) return;
    const r = size();
    ctx.clearRect(0, 0, r.width, r.height);
    const xy = st.table.xy, n = xy.length, rad = n > 20000 ? 1.6 : n > 3000 ? 2.4 : 3.5;
    ctx.globalAlpha = st.selected >= 0 ? 0.35 : 0.8;
    for (let i = 0; i < n; i++) {
      const [x, y] = toScreen(xy[i]);
      if (x < -5 || y < -5 || x > r.width + 5 || y > r.height + 5) continue;
      ctx.fillStyle = st.colors[i];
      ctx.beginPath(); ctx.arc(x, y, rad, 0, 2 * Math.PI); ctx.fill();
    }
    ctx.globalAlpha = 1;
    for (const i of st.near) ring(i, rad + 3, "#1d2430", 1.5);
    if (st.selected >= 0) ring(st.selected, rad + 5, "#d9342b", 3);
    if (st.hover >= 0) ring(st.hover, rad + 2, "#1d2430", 1);
  }

  function ring(i, radius, colour, width) {
    const [x, y] = toScreen(st.table.xy[i]);
    ctx.strokeStyle = colour; ctx.lineWidth = width;
    ctx.beginPath(); ctx.arc(x, y, radius, 0, 2 * Math.PI); ctx.stroke();
  }

  function nearestPoint(cx, cy, within) {
    let best = -1, bd = within * within;
    const xy = st.table.xy;
    for (let i = 0; i < xy.length; i++) {
      const [x, y] = toScreen(xy[i]), d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }

  function resetView() { st.view = { scale: 1, tx: 0, ty: 0 }; draw(); }

  function centreOn(i) {
    const r = canvas.getBoundingClientRect(), [x, y] = toScreen(st.table.xy[i]);
    if (x < 40 || y < 40 || x > r.width - 40 || y > r.height - 40) {
      st.view.tx += r.width / 2 - x; st.view.ty += r.height / 2 - y;
    }
  }

  // ---------------------------------------------------------------- labels and lookups
  function label(t, i) {
    const c = t.label_col, v = c ? t.meta[c][i] : null;
    return v === null || v === undefined ? String(t.ids[i]) : String(v);
  }

  // a neighbour's table and row: Feat2Vec's "group=value" labels name their table
  function locate(t, id) {
    if (t.neighbour_scope === "all") {
      const s = String(id);
      let owner = null;
      for (const o of st.data.tables) if (s.startsWith(o.name + "=") && (!owner || o.name.length > owner.name.length)) owner = o;
      if (!owner) return null;
      const row = st.index[owner.name].get(s.slice(owner.name.length + 1));
      return row === undefined ? null : [owner, row];
    }
    const owner = tableByName(t.neighbours_table || t.name);
    const row = owner ? st.index[owner.name].get(String(id)) : undefined;
    return row === undefined ? null : [owner, row];
  }

  function link(t, row, text) {
    const a = document.createElement("a");
    a.textContent = text !== undefined ? text : label(t, row);
    a.dataset.table = t.name; a.dataset.id = String(t.ids[row]);
    a.addEventListener("click", (e) => { e.preventDefault(); select(t.name, row); });
    return a;
  }

  function summary(t, row) {
    const parts = [];
    for (const [c, vals] of Object.entries(t.meta)) {
      if (c === t.label_col || c.startsWith("P(") || c.startsWith("match: ") || c.startsWith("in ")) continue;
      if (vals[row] !== null && parts.length < 2) parts.push(fmt(vals[row]));
    }
    return parts.join(" · ");
  }

  // ---------------------------------------------------------------- selection and details
  function select(tableName, row) {
    if (!st.table || st.table.name !== tableName) useTable(tableName, true);
    const t = st.table;
    st.selected = row;
    st.near = new Set();
    const list = t.neighbours[row] || [];
    for (const [id] of list) {
      const hit = locate(t, id);
      if (hit && hit[0] === t) st.near.add(hit[1]);
      else if (t.neighbours_table && st.index[t.name].has(String(id))) st.near.add(st.index[t.name].get(String(id)));
    }
    centreOn(row);
    details(t, row);
    draw();
  }

  function details(t, row) {
    const box = $("details");
    box.innerHTML = "";
    const h = document.createElement("h2");
    h.id = "selected"; h.textContent = label(t, row);
    const sub = document.createElement("div");
    sub.className = "sub"; sub.textContent = t.name + " · id " + t.ids[row];
    box.append(h, sub);
    const dl = document.createElement("dl"), bars = [];
    for (const [c, vals] of Object.entries(t.meta)) {
      if (c.startsWith("P(")) { bars.push([c, vals[row]]); continue; }
      if (c === t.label_col || vals[row] === null) continue;
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = c; dd.textContent = fmt(vals[row]);
      dl.append(dt, dd);
    }
    if (dl.children.length) box.appendChild(dl);
    if (bars.length) probabilities(box, bars);
    if (t.recommended) userLists(box, t, row);
    neighbours(box, t, row);
  }

  function probabilities(box, bars) {
    const h = document.createElement("h3");
    h.textContent = "Probabilities";
    box.appendChild(h);
    const wrap = document.createElement("div");
    wrap.id = "probabilities";
    for (const [name, p] of bars) {
      const d = document.createElement("div"), l = document.createElement("span"), track = document.createElement("span"),
            fill = document.createElement("span"), v = document.createElement("span");
      d.className = "bar"; l.textContent = name.slice(2, -1); fill.className = "fill";
      fill.style.width = (100 * p).toFixed(1) + "%"; v.textContent = (100 * p).toFixed(1) + "%";
      track.appendChild(fill); d.append(l, track, v); wrap.appendChild(d);
    }
    box.appendChild(wrap);
  }

  function userLists(box, t, row) {
    const items = tableByName(t.items_table);
    const wrap = document.createElement("div");
    wrap.className = "lists";
    const cols = [["History", "history", t.history[row].map((id) => [id, null])],
                  ["Top " + st.data.k + " recommended", "recommended", t.recommended[row]]];
    for (const [title, id, list] of cols) {
      const d = document.createElement("div"), h = document.createElement("h3"), ol = document.createElement("ol");
      const total = t.meta["training rows"] ? t.meta["training rows"][row] : list.length;
      h.textContent = title + (id === "history" ? " (" + (total > list.length ? list.length + " of " + total : list.length) + ")" : "");
      ol.id = id;
      for (const [item, score] of list) ol.appendChild(entry(items, item, score));
      d.append(h, ol); wrap.appendChild(d);
    }
    box.appendChild(wrap);
  }

  function entry(t, id, score, hit) {
    const li = document.createElement("li");
    hit = hit || (t ? [t, st.index[t.name].get(String(id))] : null);
    if (hit && hit[1] !== undefined) li.appendChild(link(hit[0], hit[1]));
    else li.appendChild(document.createTextNode(String(id)));
    if (score !== null && score !== undefined) {
      const s = document.createElement("span");
      s.className = "score"; s.textContent = score.toFixed(3);
      li.appendChild(s);
    }
    return li;
  }

  function neighbours(box, t, row) {
    const h = document.createElement("h3");
    h.textContent = "Nearest neighbours" + (t.neighbour_scope === "all" ? " across tables" : "");
    const ol = document.createElement("ol");
    ol.id = "neighbours";
    for (const [id, score] of t.neighbours[row] || []) {
      const hit = locate(t, id);
      const li = entry(null, id, score, hit);
      if (hit && hit[0] !== t) li.firstChild.textContent = hit[0].name + ": " + label(hit[0], hit[1]);
      const more = hit ? summary(hit[0], hit[1]) : "";
      if (more) { const s = document.createElement("div"); s.className = "note"; s.textContent = more; li.appendChild(s); }
      ol.appendChild(li);
    }
    box.append(h, ol);
    if (!ol.children.length) { const p = document.createElement("p"); p.className = "note"; p.textContent = "none"; box.appendChild(p); }
  }

  function showHint() { $("details").innerHTML = '<p class="hint">Click a point or search for an id to see its neighbours.</p>'; }

  // ---------------------------------------------------------------- search with completion
  let matches = [], active = -1;

  function search(q) {
    q = q.trim().toLowerCase();
    matches = [];
    if (!q) return render();
    const first = [], rest = [];
    const tables = [st.table].concat(st.data.tables.filter((t) => t !== st.table));  // the table shown first
    for (const t of tables) {
      for (let i = 0; i < t.ids.length && first.length < 20; i++) {
        const id = String(t.ids[i]).toLowerCase(), lab = label(t, i).toLowerCase();
        if (id === q || lab.startsWith(q)) first.push([t, i]);
        else if (rest.length < 20 && (id.includes(q) || lab.includes(q))) rest.push([t, i]);
      }
    }
    matches = first.concat(rest).slice(0, 12);
    active = matches.length ? 0 : -1;
    render();
  }

  function render() {
    const ul = $("suggestions");
    ul.innerHTML = "";
    matches.forEach(([t, i], j) => {
      const li = document.createElement("li"), a = document.createElement("span"), s = document.createElement("small");
      li.setAttribute("role", "option");
      if (j === active) li.className = "active";
      a.textContent = label(t, i); s.textContent = t.name + (t.label_col ? " · " + t.ids[i] : "");
      li.append(a, s);
      li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(j); });
      ul.appendChild(li);
    });
    ul.hidden = !matches.length;
  }

  function choose(j) {
    const [t, i] = matches[j];
    $("search").value = label(t, i);
    matches = []; render();
    select(t.name, i);
  }

  // ---------------------------------------------------------------- events
  function wire() {
    $("model").addEventListener("change", (e) => useModel(e.target.value));
    $("table").addEventListener("change", (e) => useTable(e.target.value));
    $("color").addEventListener("change", (e) => setColor(e.target.value));
    $("reset").addEventListener("click", resetView);
    const input = $("search");
    input.addEventListener("input", () => search(input.value));
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        if (!matches.length) return;
        active = (active + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
        render(); e.preventDefault();
      } else if (e.key === "Enter" && active >= 0) { choose(active); e.preventDefault(); }
      else if (e.key === "Escape") { matches = []; render(); }
    });
    input.addEventListener("blur", () => { matches = []; render(); });
    let drag = null;
    canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; });
    window.addEventListener("mouseup", (e) => {
      if (drag && !drag.moved && e.target === canvas) {
        const r = canvas.getBoundingClientRect(), i = nearestPoint(e.clientX - r.left, e.clientY - r.top, 10);
        if (i >= 0) select(st.table.name, i);
      }
      drag = null;
    });
    canvas.addEventListener("mousemove", (e) => {
      const r = canvas.getBoundingClientRect();
      if (drag) {
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        if (drag.moved) { st.view.tx += dx; st.view.ty += dy; drag.x = e.clientX; drag.y = e.clientY; draw(); }
        return;
      }
      const i = nearestPoint(e.clientX - r.left, e.clientY - r.top, 8), tip = $("tooltip");
      if (i !== st.hover) { st.hover = i; draw(); }
      if (i < 0) { tip.hidden = true; return; }
      const t = st.table, extra = st.color ? st.color + ": " + fmt(t.meta[st.color][i]) : summary(t, i);
      tip.textContent = label(t, i) + (extra ? " — " + extra : "");
      tip.style.left = (e.clientX - r.left + 12) + "px"; tip.style.top = (e.clientY - r.top + 12) + "px";
      tip.hidden = false;
    });
    canvas.addEventListener("mouseleave", () => { $("tooltip").hidden = true; st.hover = -1; draw(); });
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = canvas.getBoundingClientRect(), f = Math.exp(-e.deltaY * 0.0015);
      const cx = e.clientX - r.left - r.width / 2, cy = e.clientY - r.top - r.height / 2;
      st.view.tx = cx - (cx - st.view.tx) * f; st.view.ty = cy - (cy - st.view.ty) * f;
      st.view.scale *= f; draw();
    }, { passive: false });
    window.addEventListener("resize", draw);
  }

  // for tests and scripts: where a row is on screen, and a way to select by id
  window.featvecExplorer = {
    state: st,
    screenPosition(tableName, id) {
      const row = st.index[tableName].get(String(id)), r = canvas.getBoundingClientRect(), [x, y] = toScreen(tableByName(tableName).xy[row]);
      return { x: r.left + x, y: r.top + y };
    },
    select(tableName, id) { select(tableName, st.index[tableName].get(String(id))); },
  };

  wire();
  const names = window.FEATVEC_MODELS || [];
  fill($("model"), names);
  const wanted = new URLSearchParams(location.search).get("model");
  if (!names.length) $("status").textContent = "no models";
  else useModel(names.includes(wanted) ? wanted : names[0]).then(() => { document.body.dataset.ready = "1"; });
})();
