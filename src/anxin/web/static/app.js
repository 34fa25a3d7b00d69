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
  var COLOURS = { critical: "#c62828", major: "#e08a00", minor: "#1f7fbf", ok: "#2e7d32" };

  function overview() {
    var d = data();
    var map = echarts.init(document.getElementById("map"));
    var series = Object.keys(COLOURS).map(function (state) {
      return {
        name: d.labels[state], type: "scatter", symbolSize: function (v) { return 8 + Math.min(18, v[2] * 2); },
        itemStyle: { color: COLOURS[state] },
        data: d.stations.filter(function (s) { return s.state === state; })
          .map(function (s) { return { name: s.station_id + " " + s.name, value: [s.lon, s.lat, s.open], id: s.station_id }; })
      };
    });
    map.setOption({
      tooltip: { formatter: function (p) { return esc(p.name) + "<br>" + esc(d.labels.open) + ": " + esc(p.value[2]); } },
      legend: { bottom: 0 }, grid: { left: 40, right: 10, top: 10, bottom: 40 },
      xAxis: { type: "value", scale: true, name: "lon" }, yAxis: { type: "value", scale: true, name: "lat" },
      series: series
    });
    map.on("click", function (p) { if (p.data && p.data.id) { location.href = "/console/stations/" + p.data.id; } });
    var trend = echarts.init(document.getElementById("trend"));
    var tseries = Object.keys(d.trends.alarms_by_district).map(function (k) {
      return { name: k, type: "bar", stack: "alarms", data: d.trends.alarms_by_district[k] };
    });
    tseries.push({ name: d.labels.volume, type: "line", yAxisIndex: 1, data: d.trends.volume_l });
    trend.setOption({
      tooltip: { trigger: "axis" }, legend: { bottom: 0 }, grid: { left: 50, right: 60, top: 20, bottom: 50 },
      xAxis: { type: "category", data: d.trends.days },
      yAxis: [{ type: "value", name: d.labels.alarms }, { type: "value", name: d.labels.volume }],
      series: tseries
    });
    window.addEventListener("resize", function () { map.resize(); trend.resize(); });
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
      tooltip: { trigger: "item" }, grid: { left: 50, right: 20, top: 20, bottom: 40 },
      xAxis: { type: "time" }, yAxis: { type: "category", data: d.rules },
      series: [{ type: "scatter", symbolSize: 10, data: d.points }]
    });
  }

  function estimate() {
    var el = document.getElementById("estimate");
    if (!el) { return; }
    var d = data();
    var chart = echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis" }, grid: { left: 50, right: 20, top: 20, bottom: 40 },
      xAxis: { type: "time" }, yAxis: { type: "value", name: "‰" },
      series: [
        { name: "lo", type: "line", data: d.lo, lineStyle: { opacity: 0 }, stack: "ci", symbol: "none" },
        { name: "95%", type: "line", data: d.band, lineStyle: { opacity: 0 }, areaStyle: { color: "#bcd4ef" }, stack: "ci", symbol: "none" },
        { name: "‰", type: "line", data: d.est, itemStyle: { color: "#0b5fb3" },
          markLine: { silent: true, symbol: "none", data: [{ yAxis: 3 }, { yAxis: -3 }, { yAxis: 2, lineStyle: { type: "dotted" } }, { yAxis: -2, lineStyle: { type: "dotted" } }] } }
      ]
    });
  }

  function statistics() {
    var d = data();
    var rules = echarts.init(document.getElementById("by-rule"));
    rules.setOption({
      tooltip: {}, grid: { left: 150, right: 20, top: 10, bottom: 30 },
      xAxis: { type: "value" }, yAxis: { type: "category", data: d.rules.map(function (r) { return r[0]; }) },
      series: [{ type: "bar", data: d.rules.map(function (r) { return r[1]; }), itemStyle: { color: "#c62828" } }]
    });
    var work = echarts.init(document.getElementById("work"));
    work.setOption({
      tooltip: {}, legend: { bottom: 0 }, grid: { left: 50, right: 20, top: 20, bottom: 50 },
      xAxis: { type: "category", data: d.work.labels }, yAxis: { type: "value" },
      series: [{ name: d.work.opened, type: "bar", data: d.work.opened_values },
               { name: d.work.closed, type: "bar", data: d.work.closed_values }]
    });
    window.addEventListener("resize", function () { rules.resize(); work.resize(); });
  }

  var pages = { overview: overview, history: history, estimate: estimate, statistics: statistics };
  window.anxin = pages;
  if (page && Object.prototype.hasOwnProperty.call(pages, page)) { pages[page](); }
})();
