/* cpted interactive map: the project's own canvas renderer (MIT licence, as cpted). It needs no
 * network: the data are in the page (cpted/report/interactive.py writes them), the base map is the
 * site's own buildings and streets. window.cptedMap (the last map of the page; each map's root
 * element also carries it as .cptedMap) gives: ready, readyAt (ms since navigation), error,
 * project(x, y) -> {x, y} (viewport pixels of a point in the site CRS), setLayer(key or "none"),
 * setOverlay(name, on), clickAt(x, y), places, layers, canvas, info. */
function cptedInteractiveMap(root) {
  "use strict";
  var data = JSON.parse(root.querySelector(".cpted-imap-data").textContent);
  var t = data.t;
  var api = {ready: false, readyAt: null, error: null};
  window.cptedMap = api;
  root.cptedMap = api;
  var loading = root.querySelector(".cpted-imap-loading");
  if (typeof DecompressionStream === "undefined") {
    loading.textContent = t.oldBrowser;
    api.error = "no DecompressionStream";
    return api;
  }
  var text = atob(data.blob), bytes = new Uint8Array(text.length);
  for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  new Response(stream).arrayBuffer().then(build).catch(function (e) {
    api.error = String(e && e.stack || e);
    loading.textContent = String(e);
    throw e;
  });
  return api;

  function el(tag, props, children) {
    var e = document.createElement(tag);
    if (props) for (var k in props) {
      if (k === "text") e.textContent = props[k]; else if (k === "class") e.className = props[k]; else e.setAttribute(k, props[k]);
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  function build(buf) {
    var TYPES = {u8: Uint8Array, u16: Uint16Array, i32: Int32Array, u32: Uint32Array};
    function arr(ref) { return new TYPES[ref[2]](buf, ref[0], ref[1]); }
    function rings(g) {
      var lens = arr(g.lens), xy = arr(g.xy), out = [], p = 0, prec = data.precision;
      for (var r = 0; r < lens.length; r++) {
        var n = lens[r], ring = new Float64Array(2 * n), x = 0, y = 0;
        for (var k = 0; k < n; k++, p++) { x += xy[2 * p]; y += xy[2 * p + 1]; ring[2 * k] = x * prec; ring[2 * k + 1] = y * prec; }
        out.push(ring);
      }
      return out;
    }
    function path(rs, close) {
      var P = new Path2D();
      rs.forEach(function (r) {
        P.moveTo(r[0], r[1]);
        for (var k = 2; k < r.length; k += 2) P.lineTo(r[k], r[k + 1]);
        if (close) P.closePath();
      });
      return P;
    }
    function inside(rs, x, y) {  // even-odd rule over every ring
      var c = false;
      rs.forEach(function (r) {
        for (var i = 0, j = r.length - 2; i < r.length; j = i, i += 2) {
          if ((r[i + 1] > y) !== (r[j + 1] > y) && x < (r[j] - r[i]) * (y - r[i + 1]) / (r[j + 1] - r[i + 1]) + r[i]) c = !c;
        }
      });
      return c;
    }

    var g = data.grid, ox = data.origin[0], oy = data.origin[1];
    var layers = data.layers.map(function (l) { return {key: l.key, label: l.label, grid: arr(l.grid), reason: arr(l.reason)}; });
    var drivers = arr(data.drivers.grid);
    var buildings = path(rings(data.buildings), true), streets = path(rings(data.streets), false);
    var boundary = path(rings(data.boundary), true);
    var places = data.places.map(function (p) {
      var rs = rings(p.ring), box = [Infinity, Infinity, -Infinity, -Infinity];
      rs.forEach(function (r) {
        for (var k = 0; k < r.length; k += 2) {
          box = [Math.min(box[0], r[k]), Math.min(box[1], r[k + 1]), Math.max(box[2], r[k]), Math.max(box[3], r[k + 1])];
        }
      });
      return Object.assign({rings: rs, box: box, path: path(rs, true)}, p);
    });
    var state = {layer: layers.length ? layers[layers.length - 1].key : "none",
                 overlays: {places: true, buildings: true, streets: true, boundary: true}, selected: null};
    var images = {}, NAN_RGB = [196, 191, 204];
    var colors = data.colors.map(function (h) { return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)]; });

    function image(key) {  // one pixel per cell, rows from the top
      if (images[key] || !g.nx || !g.ny) return images[key];
      var layer = layers.filter(function (l) { return l.key === key; })[0];
      if (!layer) return null;
      var c = document.createElement("canvas");
      c.width = g.nx; c.height = g.ny;
      var cx = c.getContext("2d"), img = cx.createImageData(g.nx, g.ny), px = img.data;
      for (var i = 0; i < layer.grid.length; i++) {
        var v = layer.grid[i], o = 4 * i;
        if (v === 254) continue;
        var rgb = v === 255 ? NAN_RGB : colors[v];
        px[o] = rgb[0]; px[o + 1] = rgb[1]; px[o + 2] = rgb[2]; px[o + 3] = 255;
      }
      cx.putImageData(img, 0, 0);
      return (images[key] = c);
    }

    // --- the page: controls, canvas, legend, info panel
    var group = "cpted-layer-" + Math.random().toString(36).slice(2);
    var radios = [["none", t.noScore]].concat(layers.map(function (l) { return [l.key, l.label]; })).map(function (kv) {
      var input = el("input", {type: "radio", name: group, value: kv[0], "data-layer": kv[0]});
      input.checked = kv[0] === state.layer;
      input.addEventListener("change", function () { if (input.checked) api.setLayer(kv[0]); });
      return el("label", null, [input, document.createTextNode(" " + kv[1])]);
    });
    var overlayNames = [["places", t.places], ["buildings", t.buildings], ["streets", t.streets], ["boundary", t.boundary]];
    var checks = overlayNames.map(function (kv) {
      var input = el("input", {type: "checkbox", "data-overlay": kv[0]});
      input.checked = true;
      input.addEventListener("change", function () { api.setOverlay(kv[0], input.checked); });
      return el("label", null, [input, document.createTextNode(" " + kv[1])]);
    });
    var canvas = el("canvas", {tabindex: "0", "aria-label": t.map});
    var zin = el("button", {type: "button", title: t.zoomIn, "aria-label": t.zoomIn, text: "+"});
    var zout = el("button", {type: "button", title: t.zoomOut, "aria-label": t.zoomOut, text: "\u2212"});
    var zfit = el("button", {type: "button", title: t.fit, "aria-label": t.fit, text: "\u2922"});
    var wrap = el("div", {class: "cpted-imap-wrap"}, [canvas, el("div", {class: "cpted-imap-zoom"}, [zin, zout, zfit])]);
    var ramp = el("span", {class: "cpted-imap-ramp"});
    ramp.style.background = "linear-gradient(to right," + data.colors.filter(function (c, i) { return i % 10 === 0; }).join(",") + ")";
    var legend = el("div", {class: "cpted-imap-legend"}, [
      el("span", {text: "0"}), ramp, el("span", {text: "100"}),
      el("span", {class: "cpted-imap-swatch cpted-imap-nan"}), el("span", {text: t.unknown}),
      el("span", {class: "cpted-imap-swatch cpted-imap-out"}), el("span", {text: t.outside})]);
    var info = el("div", {class: "cpted-imap-info", "aria-live": "polite", text: t.help});
    var bar = el("div", {class: "cpted-imap-bar"}, [
      el("fieldset", null, [el("legend", {text: t.scoreShown})].concat(radios)),
      el("fieldset", null, [el("legend", {text: t.overlays})].concat(checks))]);
    loading.replaceWith(bar, wrap, legend, info);

    // --- the view: screen x = tx + s * X, screen y = ty - s * Y (CSS pixels; X, Y metres from the origin)
    var view = {s: 1, tx: 0, ty: 0}, W = 0, H = 0, dpr = 1, pending = false, fitted = false;
    var ctx = canvas.getContext("2d");
    function fit() {
      var b = data.bounds, w = Math.max(b[2] - b[0], 1), h = Math.max(b[3] - b[1], 1);
      view.s = 0.94 * Math.min(W / w, H / h);
      view.tx = W / 2 - view.s * (b[0] + b[2]) / 2;
      view.ty = H / 2 + view.s * (b[1] + b[3]) / 2;
    }
    function resize() {
      var w = wrap.clientWidth, h = wrap.clientHeight;
      if (!w || !h) return;
      if (fitted) { view.tx += (w - W) / 2; view.ty += (h - H) / 2; }
      W = w; H = h; dpr = window.devicePixelRatio || 1;
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
      canvas.style.width = W + "px"; canvas.style.height = H + "px";
      if (!fitted) { fit(); fitted = true; }
      draw();
    }
    function schedule() { if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; draw(); }); } }
    function zoomAt(px, py, f) {
      var X = (px - view.tx) / view.s, Y = (view.ty - py) / view.s;
      view.s = Math.min(Math.max(view.s * f, 0.005), 200);
      view.tx = px - view.s * X; view.ty = py + view.s * Y;
      schedule();
    }
    function world() { ctx.setTransform(dpr * view.s, 0, 0, -dpr * view.s, dpr * view.tx, dpr * view.ty); }
    function screen() { ctx.setTransform(dpr, 0, 0, dpr, 0, 0); }

    function draw() {
      screen();
      ctx.clearRect(0, 0, W, H);
      ctx.fillStyle = "#f6f5f1"; ctx.fillRect(0, 0, W, H);
      var img = state.layer !== "none" && image(state.layer);
      if (img) {
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(img, view.tx + view.s * g.x0, view.ty - view.s * (g.y0 + g.ny * g.size), view.s * g.nx * g.size, view.s * g.ny * g.size);
      }
      world();
      ctx.lineJoin = "round"; ctx.lineCap = "round";
      if (state.overlays.buildings) { ctx.fillStyle = "#6f6a63"; ctx.fill(buildings, "evenodd"); }
      if (state.overlays.streets) { ctx.strokeStyle = "#2a2a2a"; ctx.lineWidth = 1.1 / view.s; ctx.stroke(streets); }
      if (state.overlays.boundary) {
        ctx.strokeStyle = "#000"; ctx.lineWidth = 2 / view.s; ctx.setLineDash([7 / view.s, 4 / view.s]);
        ctx.stroke(boundary); ctx.setLineDash([]);
      }
      var sel = state.selected;
      if (sel && sel.cell) {
        ctx.strokeStyle = "#000"; ctx.lineWidth = 2.5 / view.s;
        ctx.strokeRect(g.x0 + sel.col * g.size, g.y0 + (g.ny - 1 - sel.row) * g.size, g.size, g.size);
      }
      if (state.overlays.places) {
        places.forEach(function (p) {
          ctx.strokeStyle = "#2b2bd6"; ctx.lineWidth = (sel && sel.place === p ? 4 : 2) / view.s; ctx.stroke(p.path);
        });
        screen();
        ctx.font = "bold 12px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
        var drawn = [];  // markers in priority order (place no. 1 first); one that would cover another is left out
        places.forEach(function (p) {
          var q = toScreen(p.x, p.y);
          p.shown = q.x > -20 && q.y > -20 && q.x < W + 20 && q.y < H + 20 && drawn.every(function (d) {
            return (d.x - q.x) * (d.x - q.x) + (d.y - q.y) * (d.y - q.y) >= 22 * 22;
          });
          if (!p.shown) return;
          drawn.push(q);
          ctx.beginPath(); ctx.arc(q.x, q.y, 11, 0, 2 * Math.PI);
          ctx.fillStyle = sel && sel.place === p ? "#2b2bd6" : "#fff"; ctx.fill();
          ctx.strokeStyle = "#2b2bd6"; ctx.lineWidth = 2; ctx.stroke();
          ctx.fillStyle = sel && sel.place === p ? "#fff" : "#2b2bd6"; ctx.fillText(String(p.no), q.x, q.y + 0.5);
        });
      }
      screen();
      decorations();
    }
    function decorations() {  // scale bar, north arrow, attribution
      var target = 120 / view.s, e = Math.pow(10, Math.floor(Math.log10(target))), m = e;
      [1, 2, 5, 10].forEach(function (k) { if (k * e <= target) m = k * e; });
      var w = m * view.s, x = 12, y = H - 16;
      ctx.fillStyle = "rgba(255,255,255,.8)"; ctx.fillRect(x - 6, y - 18, w + 60, 28);
      ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(x, y - 5); ctx.lineTo(x, y); ctx.lineTo(x + w, y); ctx.lineTo(x + w, y - 5); ctx.stroke();
      ctx.fillStyle = "#000"; ctx.font = "12px system-ui, sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "alphabetic";
      ctx.fillText((m >= 1000 ? m / 1000 + " km" : m + " m"), x + w + 6, y);
      var nx = W - 24, ny = 20;
      ctx.beginPath(); ctx.moveTo(nx, ny); ctx.lineTo(nx - 7, ny + 18); ctx.lineTo(nx, ny + 13); ctx.lineTo(nx + 7, ny + 18); ctx.closePath();
      ctx.fill(); ctx.textAlign = "center"; ctx.fillText("N", nx, ny + 32);
      if (data.attribution) {
        ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "right";
        var tw = ctx.measureText(data.attribution).width;
        ctx.fillStyle = "rgba(255,255,255,.8)"; ctx.fillRect(W - tw - 10, H - 16, tw + 10, 16);
        ctx.fillStyle = "#333"; ctx.fillText(data.attribution, W - 5, H - 4);
      }
    }
    function toScreen(X, Y) { return {x: view.tx + view.s * X, y: view.ty - view.s * Y}; }

    // --- what is under a point, and the info panel
    function hit(px, py) {
      var X = (px - view.tx) / view.s, Y = (view.ty - py) / view.s, k;
      if (state.overlays.places) {
        for (k = 0; k < places.length; k++) {
          var q = toScreen(places[k].x, places[k].y);
          if (places[k].shown && (q.x - px) * (q.x - px) + (q.y - py) * (q.y - py) <= 13 * 13) return {place: places[k]};
        }
        for (k = 0; k < places.length; k++) {
          var b = places[k].box;
          if (X >= b[0] && X <= b[2] && Y >= b[1] && Y <= b[3] && inside(places[k].rings, X, Y)) return {place: places[k]};
        }
      }
      var col = Math.floor((X - g.x0) / g.size), row = g.ny - 1 - Math.floor((Y - g.y0) / g.size);
      if (col < 0 || row < 0 || col >= g.nx || row >= g.ny || !layers.length) return null;
      var idx = row * g.nx + col;
      return layers[0].grid[idx] === 254 ? null : {cell: true, col: col, row: row, idx: idx};
    }
    function fmt(v, d) { return v.toLocaleString(document.documentElement.lang || undefined, {maximumFractionDigits: d || 0}); }
    function rowsTable(rows) {
      return el("table", null, rows.map(function (r) {
        var td = el("td", r[2] ? {class: "na"} : null, [document.createTextNode(r[1])]);
        return el("tr", null, [el("th", {text: r[0]}), td]);
      }));
    }
    function showCell(h) {
      var x = ox + g.x0 + (h.col + 0.5) * g.size, y = oy + g.y0 + (g.ny - h.row - 0.5) * g.size;
      var rows = layers.map(function (l) {
        var v = l.grid[h.idx];
        if (v === 255) {
          var why = data.reasons[l.reason[h.idx]];
          return [l.label, t.na + (why ? " (" + why + ")" : ""), true];
        }
        return [l.label, String(v)];
      });
      var d = data.drivers.texts[drivers[h.idx]];
      rows.push([t.drivers, data.drivers.known ? (d[0] || t.noneBelow50) : t.na, !data.drivers.known]);
      if (d[1]) rows.push([t.remedy, d[1]]);
      info.replaceChildren(el("h4", {text: t.cellAt + " " + fmt(x, 1) + ", " + fmt(y, 1) + (data.crs ? " (" + data.crs + ")" : "")}), rowsTable(rows));
    }
    function showPlace(p) {
      info.replaceChildren(el("h4", {text: t.placeNo + " " + p.no}), rowsTable([
        [t.principle, p.principle], [t.street, p.street || t.unnamed, !p.street],
        [t.area, fmt(p.area) + " m\u00b2"], [t.cells, String(p.cells)],
        [t.meanScore, p.score === null ? t.na : fmt(p.score), p.score === null],
        [t.drivers, p.drivers || t.noneBelow50], [t.remedy, p.remedy || "\u2014"]]));
    }
    function clickAt(px, py) {
      var h = hit(px, py);
      state.selected = h;
      if (!h) info.textContent = t.outside;
      else if (h.place) showPlace(h.place);
      else showCell(h);
      schedule();
      return h;
    }

    // --- input: drag to pan, wheel / buttons / keys to zoom, click to inspect
    var drag = null;
    canvas.addEventListener("pointerdown", function (e) {
      drag = {x: e.clientX, y: e.clientY, tx: view.tx, ty: view.ty, moved: false};
      try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic pointers */ }
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drag) return;
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      if (drag.moved) { view.tx = drag.tx + dx; view.ty = drag.ty + dy; schedule(); }
    });
    canvas.addEventListener("pointerup", function (e) {
      if (drag && !drag.moved) { var r = canvas.getBoundingClientRect(); clickAt(e.clientX - r.left, e.clientY - r.top); }
      drag = null;
    });
    canvas.addEventListener("pointercancel", function () { drag = null; });
    canvas.addEventListener("wheel", function (e) {
      e.preventDefault();
      var r = canvas.getBoundingClientRect();
      zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)));
    }, {passive: false});
    canvas.addEventListener("keydown", function (e) {
      var step = 60, keys = {ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step]};
      if (keys[e.key]) { view.tx += keys[e.key][0]; view.ty += keys[e.key][1]; schedule(); }
      else if (e.key === "+" || e.key === "=") zoomAt(W / 2, H / 2, 1.5);
      else if (e.key === "-") zoomAt(W / 2, H / 2, 1 / 1.5);
      else return;
      e.preventDefault();
    });
    zin.addEventListener("click", function () { zoomAt(W / 2, H / 2, 1.5); });
    zout.addEventListener("click", function () { zoomAt(W / 2, H / 2, 1 / 1.5); });
    zfit.addEventListener("click", function () { fit(); schedule(); });
    if (window.ResizeObserver) new ResizeObserver(resize).observe(wrap); else window.addEventListener("resize", resize);

    Object.assign(api, {
      layers: layers.map(function (l) { return l.key; }), canvas: canvas, info: info,
      places: places.map(function (p) { return {no: p.no, x: p.x + ox, y: p.y + oy}; }),
      project: function (x, y) {
        var q = toScreen(x - ox, y - oy), r = canvas.getBoundingClientRect();
        return {x: r.left + q.x, y: r.top + q.y};
      },
      setLayer: function (key) {
        state.layer = key;
        root.querySelectorAll("input[data-layer]").forEach(function (i) { i.checked = i.value === key; });
        draw();
      },
      setOverlay: function (name, on) {
        state.overlays[name] = !!on;
        var box = root.querySelector('input[data-overlay="' + name + '"]');
        if (box) box.checked = !!on;
        draw();
      },
      clickAt: clickAt,
      view: function () { return {s: view.s, tx: view.tx, ty: view.ty}; },
    });
    resize();
    api.ready = true;
    api.readyAt = performance.now();
    root.setAttribute("data-ready", "1");
  }
}
