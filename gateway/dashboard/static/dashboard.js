// fsegate dashboard: live figures from /dashboard/events (Server-Sent
// Events, one JSON snapshot a second), polling /dashboard/snapshot when SSE
// is unavailable. No framework, no build step.
"use strict";
(function () {
  var svgNS = "http://www.w3.org/2000/svg";

  function $(id) { return document.getElementById(id); }

  function setFigure(id, v) {
    var el = $(id);
    if (!el) return;
    var s = String(v);
    if (el.textContent !== s) {
      el.textContent = s;
      el.setAttribute("data-value", s);
      el.classList.remove("changed");
      void el.offsetWidth; // restart the highlight animation
      el.classList.add("changed");
    }
  }

  function seconds(f) {
    if (!f) return "–";
    return f < 10 ? f.toFixed(2) + " s" : f.toFixed(0) + " s";
  }

  function td(text, cls) {
    var c = document.createElement("td");
    if (cls) c.className = cls;
    c.textContent = text;
    return c;
  }

  // fillTable rebuilds a two-column table body from a map, one row per
  // key (sorted), with a data attribute naming the key.
  function fillTable(id, map, attr, empty, render) {
    var body = $(id);
    if (!body) return;
    var keys = Object.keys(map || {}).sort();
    var rows = [];
    keys.forEach(function (k) {
      var tr = document.createElement("tr");
      tr.setAttribute(attr, k);
      render(tr, k, map[k]);
      rows.push(tr);
    });
    if (rows.length === 0) {
      var tr = document.createElement("tr");
      tr.className = "empty";
      var c = td(empty);
      c.colSpan = 2;
      tr.appendChild(c);
      rows.push(tr);
    }
    body.replaceChildren.apply(body, rows);
  }

  function countCell(n) {
    var c = td(String(n), "num");
    c.setAttribute("data-value", String(n));
    return c;
  }

  function codeCell(text, cls) {
    var c = document.createElement("td");
    var k = document.createElement(cls ? "span" : "code");
    if (cls) k.className = cls;
    k.textContent = text;
    c.appendChild(k);
    return c;
  }

  function insurers(s) {
    var body = $("insurers-table");
    if (!body) return;
    var rows = (s.insurers || []).map(function (ins) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-insurer", ins);
      var name = document.createElement("td");
      var a = document.createElement("a");
      a.href = "/dashboard/insurers/" + encodeURIComponent(ins);
      a.textContent = ins;
      name.appendChild(a);
      tr.appendChild(name);
      var lots = countCell((s.lots || {})[ins] || 0);
      lots.setAttribute("data-lots-insurer", ins);
      tr.appendChild(lots);
      var depth = td(String((s.depth || {})[ins] || 0), "num");
      depth.setAttribute("data-depth-insurer", ins);
      tr.appendChild(depth);
      var dead = td(String((s.dead || {})[ins] || 0), "num");
      dead.setAttribute("data-dead-insurer", ins);
      tr.appendChild(dead);
      var open = (s.breaker || {})[ins];
      tr.appendChild(codeCell(open ? "open" : "closed", "state " + (open ? "s-rejected" : "s-accepted")));
      return tr;
    });
    if (rows.length) body.replaceChildren.apply(body, rows);
  }

  function chart(points) {
    var svg = $("throughput");
    if (!svg) return;
    var W = 640, H = 180, L = 40, B = 20, T = 10;
    var max = 1;
    points.forEach(function (p) { if (p.rate > max) max = p.rate; });
    max = niceCeil(max);
    var t1 = points.length ? points[points.length - 1].t : Date.now();
    var t0 = points.length ? points[0].t : t1 - 60000;
    if (t1 - t0 < 60000) t0 = t1 - 60000;
    function x(t) { return L + (W - L - 4) * (t - t0) / (t1 - t0); }
    function y(v) { return T + (H - T - B) * (1 - v / max); }
    var kids = [];
    for (var i = 0; i <= 4; i++) {
      var v = max * i / 4, yy = y(v);
      kids.push(el("line", { x1: L, x2: W - 4, y1: yy, y2: yy, "class": "grid" }));
      kids.push(text(L - 6, yy + 4, fmt(v), "end"));
    }
    var mins = Math.round((t1 - t0) / 60000);
    kids.push(text(L, H - 4, "-" + mins + " min", "start"));
    kids.push(text(W - 4, H - 4, "now", "end"));
    if (points.length > 1) {
      var d = "M" + x(points[0].t).toFixed(1) + "," + y(0).toFixed(1);
      points.forEach(function (p) { d += " L" + x(p.t).toFixed(1) + "," + y(p.rate).toFixed(1); });
      d += " L" + x(points[points.length - 1].t).toFixed(1) + "," + y(0).toFixed(1) + " Z";
      kids.push(el("path", { d: d, "class": "area" }));
      var l = "";
      points.forEach(function (p, i) { l += (i ? " L" : "M") + x(p.t).toFixed(1) + "," + y(p.rate).toFixed(1); });
      kids.push(el("path", { d: l, "class": "line" }));
      var last = points[points.length - 1];
      kids.push(text(W - 8, T + 12, fmt(last.rate) + " /s now", "end", "now"));
    }
    svg.replaceChildren.apply(svg, kids);
  }

  function niceCeil(v) {
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }
  function fmt(v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1).replace(/\.0$/, "") : v.toFixed(2).replace(/\.?0+$/, ""); }
  function el(name, attrs) {
    var e = document.createElementNS(svgNS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function text(x, y, s, anchor, cls) {
    var t = el("text", { x: x, y: y, "text-anchor": anchor, "class": cls || "axis" });
    t.textContent = s;
    return t;
  }

  function apply(s) {
    setFigure("received", s.received);
    setFigure("refused-total", s.refused_total);
    setFigure("queued", s.queued);
    setFigure("in-flight", s.in_flight);
    setFigure("final-total", s.final_total);
    setFigure("delivery-failures", s.delivery_failures);
    var l = s.latency || {};
    setFigure("latency-p50", seconds(l.p50));
    setFigure("latency-p90", seconds(l.p90));
    setFigure("latency-p99", seconds(l.p99));
    setFigure("latency-mean", seconds(l.mean));
    setFigure("latency-count", l.count || 0);
    fillTable("refused-table", s.refused, "data-refused-code", "none", function (tr, k, n) {
      tr.appendChild(codeCell(k)); tr.appendChild(countCell(n));
    });
    fillTable("final-table", s.final, "data-final-state", "none yet", function (tr, k, n) {
      tr.appendChild(codeCell(k, "state s-" + k)); tr.appendChild(countCell(n));
    });
    fillTable("acks-table", s.acks, "data-acks-level", "none yet", function (tr, k, n) {
      tr.appendChild(td(k)); tr.appendChild(countCell(n));
    });
    insurers(s);
    chart(s.throughput || []);
    var u = $("updated");
    if (u) u.textContent = new Date(s.time).toLocaleTimeString();
    document.body.setAttribute("data-updates", String(++updates));
  }

  var updates = 0;
  var initial = $("initial-snapshot");
  if (!initial) return;
  try { apply(JSON.parse(initial.textContent)); } catch (e) { /* server-rendered figures stay */ }

  var live = $("live");
  function state(ok) { if (live) live.className = ok ? "live on" : "live off"; }

  function poll() {
    fetch("/dashboard/snapshot", { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (s) { apply(s); state(true); })
      .catch(function () { state(false); })
      .finally(function () { setTimeout(poll, 1000); });
  }

  if (window.EventSource) {
    var es = new EventSource("/dashboard/events");
    es.addEventListener("snapshot", function (ev) { state(true); apply(JSON.parse(ev.data)); });
    es.onerror = function () { state(false); };
  } else {
    poll();
  }
})();
