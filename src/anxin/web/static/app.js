/* The console's charts (ECharts, shipped with the package) and the live alarm feed (SSE).
   Loaded as <script src="/static/app.js" data-page="…">: the page's function runs from here
   (the Content-Security-Policy allows no inline script). Data reaches the DOM as text
   (textContent, DOM nodes) or, in ECharts' HTML tooltips, escaped by esc(). */
(function () {
  "use strict";
  var page = document.currentScript && document.currentScript.getAttribute("data-page");
  function data() { var el = document.getElementById("data"); return el ? JSON.parse(el.textContent) : {}; }
  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  // A reader who asks for reduced motion (the operating system's setting) gets the charts
  // drawn at once, without ECharts' entry animation.
  var STILL = !!(window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches);
  // A time axis's labels in figures, the same in either language: 12-04 at a day's
  // start, 18:00 within it (ECharts' own would say "4" for the 4th, in English).
  var TIME_LABELS = { year: "{yyyy}", month: "{yyyy}-{MM}", day: "{MM}-{dd}", hour: "{HH}:{mm}", minute: "{HH}:{mm}",
                      second: "{HH}:{mm}:{ss}", millisecond: "{HH}:{mm}:{ss}" };
  var COLOURS = { critical: "#c62828", major: "#e08a00", minor: "#1f7fbf", ok: "#2e7d32" };

  // A district's shade on the map: its stations' worst open alarm; none open (or no
  // station of the reader's there): neutral.
  var TINTS = { critical: "#f3c1bd", major: "#f8dcae", minor: "#c7dff0" };
  var NEUTRAL = "#eef0f3";

  function stationSeries(d, onGeo) {
    return Object.keys(COLOURS).map(function (state) {
      return {
        name: d.labels[state], type: "scatter", coordinateSystem: onGeo ? "geo" : "cartesian2d",
        symbolSize: function (v) { return 8 + Math.min(18, v[2] * 2); },
        itemStyle: { color: COLOURS[state], borderColor: onGeo ? "#fff" : null, borderWidth: onGeo ? 1 : 0 },
        // each station named beside its dot (a city's few dozen; beyond that, in the tooltip only)
        label: { show: d.stations.length <= 40, position: "right", fontSize: 11, color: "#1d2330",
                 formatter: function (p) { return p.data.short; } },
        labelLayout: { hideOverlap: true },
        data: d.stations.filter(function (s) { return s.state === state; })
          .map(function (s) { return { name: s.station_id + " " + s.name, short: s.name, value: [s.lon, s.lat, s.open], id: s.station_id }; })
      };
    });
  }

  function stationTip(d, p) { return esc(p.name) + "<br>" + esc(d.labels.open) + ": " + esc(p.value[2]); }

  function scatterMap(chart, d) {
    // no district map loaded: the stations on their longitude and latitude
    chart.setOption({
      animation: !STILL,
      tooltip: { formatter: function (p) { return stationTip(d, p); } },
      // the colours' legend is the page's own list under the map (not a second one in the chart)
      grid: { left: 8, right: 24, top: 30, bottom: 26, containLabel: true },
      xAxis: { type: "value", scale: true, name: d.labels.lon, nameLocation: "middle", nameGap: 26, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", scale: true, name: d.labels.lat, nameTextStyle: { align: "left" } },
      series: stationSeries(d, false)
    }, true);
  }

  function districtMap(chart, d, geo) {
    // The districts (anxin map load) drawn from their GeoJSON, each shaded by its stations'
    // worst open alarm, the stations on them as dots coloured as ever.
    echarts.registerMap(d.map.name, geo);
    var west = 180, east = -180, south = 90, north = -90;
    (function walk(c) {
      if (typeof c[0] === "number") {
        west = Math.min(west, c[0]); east = Math.max(east, c[0]); south = Math.min(south, c[1]); north = Math.max(north, c[1]);
        return;
      }
      c.forEach(walk);
    })(geo.features.map(function (f) { return f.geometry.coordinates; }));
    // a degree of longitude is shorter than one of latitude, by the cosine of the latitude;
    // the districts as large as the chart allows, in their proportions
    var scale = Math.cos((south + north) / 2 * Math.PI / 180);
    var aspect = (east - west) * scale / Math.max(1e-9, north - south);
    function size() {
      var w = chart.getWidth() - 24, h = chart.getHeight() - 24;
      return Math.max(10, aspect > 1 ? Math.min(w, h * aspect) : Math.min(h, w / aspect));
    }
    var regions = geo.features.map(function (f) {
      var name = f.properties.name, s = d.map.districts[name];
      // a district with none of the reader's stations: drawn, but nothing to open there
      return { name: name, silent: !s, itemStyle: { areaColor: s && s.state ? TINTS[s.state] : NEUTRAL } };
    });
    chart.setOption({
      animation: !STILL,
      tooltip: { formatter: function (p) {
        if (p.componentType !== "geo") { return stationTip(d, p); }
        var s = d.map.districts[p.name];
        return esc(p.name) + (s ? "<br>" + esc(d.labels.stations) + ": " + esc(s.stations) + "<br>" + esc(d.labels.open) + ": " + esc(s.open) : "");
      } },
      geo: {
        map: d.map.name, roam: false, aspectScale: scale, layoutCenter: ["50%", "50%"], layoutSize: size(),
        itemStyle: { areaColor: NEUTRAL, borderColor: "#8a93a3", borderWidth: 1 },
        label: { show: true, color: "#5b6475", fontSize: 11 },
        emphasis: { itemStyle: { areaColor: "#dde6f2" }, label: { show: true, color: "#1d2330" } },
        select: { disabled: true },
        tooltip: { show: true },
        regions: regions
      },
      series: stationSeries(d, true)
    }, true);
    return function () { chart.setOption({ geo: { layoutSize: size() } }); };
  }

  function overview() {
    var d = data();
    var mapEl = document.getElementById("map");
    var map = echarts.init(mapEl);
    var refit = function () {};
    function drawn(how) { mapEl.setAttribute("data-drawn", how); }
    if (d.map && window.fetch) {
      // the districts' GeoJSON from this site (cached under its version's address)
      fetch(d.map.url, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
        .then(function (geo) { refit = districtMap(map, d, geo); drawn("districts"); })
        .catch(function () { scatterMap(map, d); drawn("scatter"); });
    } else {
      scatterMap(map, d);
      drawn("scatter");
    }
    map.on("click", function (p) {
      if (p.componentType === "geo") {
        // a district: its open alarms (what its shade says)
        if (d.map && d.map.districts[p.name]) { location.href = d.map.alarms + encodeURIComponent(p.name); }
      } else if (p.data && p.data.id) {
        location.href = "/console/stations/" + encodeURIComponent(p.data.id);
      }
    });
    var trendEl = document.getElementById("trend");
    var trend = echarts.init(trendEl);
    var tseries = Object.keys(d.trends.alarms_by_district).map(function (k) {
      return { name: k, type: "bar", stack: "alarms", data: d.trends.alarms_by_district[k] };
    });
    tseries.push({ name: d.labels.volume, type: "line", yAxisIndex: 1, data: d.trends.volume_l });
    trend.setOption({
      animation: !STILL,
      tooltip: { trigger: "axis" }, legend: { bottom: 0 }, grid: { left: 8, right: 8, top: 34, bottom: 34, containLabel: true },
      xAxis: { type: "category", data: d.trends.days },
      // the left axis counts alarms (named as the chart is: alarms per district), the right one
      // the litres sold; one set of grid lines (the left axis'), not two that disagree
      yAxis: [{ type: "value", name: trendEl.getAttribute("aria-label") || d.labels.alarms, nameTextStyle: { align: "left" }, minInterval: 1 },
              { type: "value", name: d.labels.volume, nameTextStyle: { align: "right" }, splitLine: { show: false } }],
      series: tseries
    });
    window.addEventListener("resize", function () { map.resize(); refit(); trend.resize(); });
    live(d);
  }

  function live(d) {
    if (!window.EventSource) { return; }
    var feed = document.getElementById("feed");
    var es = new EventSource("/console/stream");
    es.addEventListener("alarm", function (e) {
      var a = JSON.parse(e.data);
      var li = document.createElement("li");
      li.className = "sev-" + a.severity + " fresh";
      var link = document.createElement("a");
      link.href = "/console/alarms/" + a.alarm_id;
      link.textContent = a.ts.slice(5, 16).replace("T", " ") + " · " + (d.rules[a.rule] || a.rule) + " · " + (a.nozzle_id || a.station_id);
      li.appendChild(link);
      feed.insertBefore(li, feed.firstChild);
      while (feed.children.length > 50) { feed.removeChild(feed.lastChild); }
    });
  }

  function history() {
    var el = document.getElementById("history");
    if (!el) { return; }
    var d = data();
    var chart = echarts.init(el);
    chart.setOption({
      animation: !STILL,
      tooltip: { trigger: "item" }, grid: { left: 8, right: 20, top: 20, bottom: 10, containLabel: true },
      xAxis: { type: "time", axisLabel: { formatter: TIME_LABELS, hideOverlap: true } }, yAxis: { type: "category", data: d.rules },
      series: [{ type: "scatter", symbolSize: 10, data: d.points }]
    });
  }

  var STATUS_COLOURS = { ok: "#2e7d32", watch: "#e08a00", violation: "#c62828", insufficient: "#6b7280" };

  function estimate() {
    // The nozzle's meter error look by look: the estimate (coloured by status), its 95 %
    // interval as a band (and as a bar at each look, visible even with one look), the
    // tank's pooled figure beside an "insufficient" look, against ±2‰ and ±3‰.
    var el = document.getElementById("estimate");
    if (!el) { return; }
    var d = data(), L = d.labels;
    var chart = echarts.init(el);
    var lows = d.lo.map(function (p) { return p[1]; }), highs = d.hi.map(function (p) { return p[1]; });
    var ymin = Math.floor(Math.min.apply(null, lows.concat([-4]))), ymax = Math.ceil(Math.max.apply(null, highs.concat([4])));
    // the axis from one round figure to another (not -4 under 0 on a scale of tens); when
    // the scale is wide the ±2‰ and ±3‰ lines lie close: only the limit's are named then
    var step = ymax - ymin > 40 ? 10 : ymax - ymin > 16 ? 5 : ymax - ymin > 8 ? 2 : 1;
    ymin = Math.floor(ymin / step) * step; ymax = Math.ceil(ymax / step) * step;
    var wide = ymax - ymin > 20;
    var byTs = {};
    d.est.forEach(function (p, i) { byTs[p[0]] = { est: p[1], lo: d.lo[i][1], hi: d.hi[i][1], status: d.status[i], k: d.k[i] }; });
    // A new K factor is another meter: its line and band start afresh (a gap before it).
    function broken(points) {
      var out = [];
      points.forEach(function (p, i) {
        if (i > 0 && d.k[i] !== d.k[i - 1]) { out.push([Array.isArray(p) ? p[0] : p.value[0], "-"]); }
        out.push(p);
      });
      return out;
    }
    function line(y, name, dotted) {
      var where = (dotted ? "insideStart" : "insideEnd") + (y > 0 ? "Top" : "Bottom");
      return { yAxis: y, name: name, lineStyle: { color: dotted ? "#e08a00" : "#c62828", type: dotted ? "dashed" : "solid" },
               label: { show: !(dotted && wide), formatter: name, position: where, color: dotted ? "#a86400" : "#c62828" } };
    }
    var series = [
      { name: "lo", type: "line", data: broken(d.lo), lineStyle: { opacity: 0 }, stack: "ci", symbol: "none", silent: true, tooltip: { show: false } },
      { name: L.band, type: "line", data: broken(d.band), lineStyle: { opacity: 0 }, itemStyle: { color: "#bcd4ef" }, areaStyle: { color: "#bcd4ef" }, stack: "ci", symbol: "none" },
      { name: L.band, type: "custom", data: d.est.map(function (p, i) { return [p[0], d.lo[i][1], d.hi[i][1]]; }),
        renderItem: function (params, api) {
          var lo = api.coord([api.value(0), api.value(1)]), hi = api.coord([api.value(0), api.value(2)]);
          var style = { stroke: "#6f9fd8", lineWidth: 2 };
          return { type: "group", children: [
            { type: "line", shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style: style },
            { type: "line", shape: { x1: lo[0] - 5, y1: lo[1], x2: lo[0] + 5, y2: lo[1] }, style: style },
            { type: "line", shape: { x1: hi[0] - 5, y1: hi[1], x2: hi[0] + 5, y2: hi[1] }, style: style }
          ] };
        }, encode: { x: 0, y: [1, 2] }, itemStyle: { color: "#bcd4ef" }, z: 3 },
      { name: L.est, type: "line", z: 5, symbolSize: 9, itemStyle: { color: "#0b5fb3" },
        data: broken(d.est.map(function (p, i) { return { value: p, itemStyle: { color: STATUS_COLOURS[d.status[i]] || "#0b5fb3" } }; })),
        markLine: { silent: true, symbol: "none", data: [line(3, L.limit), line(-3, L.limit), line(2, L.target, true), line(-2, L.target, true)] } }
    ];
    if (d.pooled.length) {
      series.push({ name: L.pooled, type: "scatter", symbol: "diamond", symbolSize: 11, itemStyle: { color: "#6b7280" }, data: d.pooled, z: 6 });
    }
    chart.setOption({
      animation: false,
      legend: { bottom: 0, data: [L.est, L.band].concat(d.pooled.length ? [L.pooled] : []) },
      tooltip: { trigger: "axis", formatter: function (ps) {
        var ts = null;
        ps.forEach(function (p) { if (ts === null && p.seriesName === L.est) { ts = p.value[0]; } });
        var e = ts === null ? null : byTs[ts];
        if (!e) { return ""; }
        return esc(String(ts).slice(0, 16).replace("T", " ")) + "<br>" + esc(L.est) + ": " + esc(e.est.toFixed(2)) +
          "<br>" + esc(L.band) + ": [" + esc(e.lo.toFixed(2)) + ", " + esc(e.hi.toFixed(2)) + "]<br>" +
          esc(L.status) + ": " + esc(d.status_text[e.status] || e.status) + "<br>" + esc(L.k) + ": " + esc(e.k);
      } },
      grid: { left: 8, right: 30, top: 30, bottom: 40, containLabel: true },
      xAxis: { type: "time", axisLabel: { formatter: TIME_LABELS, hideOverlap: true } },
      yAxis: { type: "value", name: "‰", min: ymin, max: ymax, interval: step },
      series: series
    });
    el.setAttribute("data-series", series.map(function (x) { return x.type === "custom" ? "band-bars" : (x.name === L.band ? "band" : x.name === "lo" ? "lo" : x.name === L.pooled ? "pooled" : "estimate"); }).join(" "));
    el.setAttribute("data-looks", String(d.est.length));
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function station() {
    // Each tank's chart correction: mL added to the registered volume, by level (mm).
    var d = data();
    var charts = [];
    Array.prototype.forEach.call(document.querySelectorAll(".chart.correction"), function (el) {
      var points = d.tanks[el.getAttribute("data-tank")];
      if (!points) { return; }
      var chart = echarts.init(el);
      chart.setOption({
        animation: false,
        tooltip: { trigger: "axis", formatter: function (ps) {
          var v = ps[0].value;
          return esc(d.labels.level) + ": " + esc(v[0]) + "<br>" + esc(d.labels.correction) + ": " + esc(v[1]);
        } },
        // (the unit is in the chart's heading: mL added, by level in mm)
        grid: { left: 8, right: 15, top: 12, bottom: 22, containLabel: true },
        xAxis: { type: "value", name: d.labels.level, nameLocation: "middle", nameGap: 22, scale: true, axisLabel: { hideOverlap: true } },
        yAxis: { type: "value" },
        series: [{ type: "line", data: points, symbolSize: 5, itemStyle: { color: "#0b5fb3" },
                   markLine: { silent: true, symbol: "none", data: [{ yAxis: 0 }], lineStyle: { color: "#8a93a3" }, label: { show: false } } }]
      });
      el.setAttribute("data-series", "correction");
      charts.push(chart);
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  function statistics() {
    var d = data();
    // a line for every rule that fired, each named (a phone's 280 px would name every other one)
    var byRule = document.getElementById("by-rule");
    byRule.style.height = Math.max(240, 20 * d.rules.length + 30) + "px";
    var rules = echarts.init(byRule);
    rules.setOption({
      animation: !STILL,
      tooltip: {}, grid: { left: 8, right: 36, top: 10, bottom: 10, containLabel: true },
      xAxis: { type: "value", minInterval: 1 }, yAxis: { type: "category", data: d.rules.map(function (r) { return r[0]; }), axisLabel: { interval: 0 } },
      series: [{ type: "bar", data: d.rules.map(function (r) { return r[1]; }), itemStyle: { color: "#c62828" },
                 label: { show: true, position: "right" } }]
    });
    var workEl = document.getElementById("work");
    var work = echarts.init(workEl);
    // every category named, its words wrapped within its share of the width (a phone's too)
    var share = Math.max(40, Math.floor((workEl.clientWidth - 60) / Math.max(1, d.work.labels.length)) - 8);
    work.setOption({
      animation: !STILL,
      // every bar with its number: the alarms' dozens beside a few complaints and cases
      tooltip: {}, legend: { bottom: 0 }, grid: { left: 8, right: 20, top: 24, bottom: 34, containLabel: true },
      xAxis: { type: "category", data: d.work.labels, axisLabel: { interval: 0, width: share, overflow: "break" } }, yAxis: { type: "value", minInterval: 1 },
      series: [{ name: d.work.opened, type: "bar", data: d.work.opened_values, label: { show: true, position: "top" } },
               { name: d.work.closed, type: "bar", data: d.work.closed_values, label: { show: true, position: "top" } }]
    });
    window.addEventListener("resize", function () { rules.resize(); work.resize(); });
  }

  var pages = { overview: overview, history: history, estimate: estimate, station: station, statistics: statistics };
  window.anxin = pages;
  if (page && Object.prototype.hasOwnProperty.call(pages, page)) { pages[page](); }
})();
