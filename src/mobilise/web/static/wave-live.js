// Keeps a wave page's "latest round, live" figures and throughput chart current by
// polling the wave's progress JSON every two seconds. Without JavaScript the page still
// shows the figures as of its loading.
(function () {
  "use strict";
  var section = document.querySelector("[data-live-wave]");
  if (!section) { return; }
  function fmt(n) { return n === null || n === undefined ? "0" : Number(n).toLocaleString("en-GB"); }
  function field(name) { return section.querySelector('[data-field="' + name + '"]'); }
  function set(name, text) { var el = field(name); if (el) { el.textContent = text; } }
  function line(series, index) {
    // x: seconds since the round began; y: the rate, scaled to its own peak.
    var last = series.length ? series[series.length - 1][0] || 1 : 1;
    var peak = Math.max.apply(null, series.map(function (p) { return p[index]; }).concat([1e-9]));
    return series.map(function (p) {
      var x = 40 + 550 * (p[0] / last), y = 180 - 165 * (p[index] / peak);
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" ");
  }
  function draw(series) {
    var chart = field("chart");
    if (!chart) { return; }
    chart.querySelector('[data-series="files"]').setAttribute("points", line(series, 1));
    chart.querySelector('[data-series="mb"]').setAttribute("points", line(series, 2));
    if (series.length) {
      var peak = Math.max.apply(null, series.map(function (p) { return p[1]; }));
      set("chart_max", "peak " + fmt(peak) + " files/s");
    }
  }
  function update() {
    fetch(section.dataset.liveWave, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || !body.live) { return; }
        var job = body.live, s = job.stats || {};
        set("description", job.description + ": ");
        var status = document.createElement("span");
        status.dataset.field = "status"; status.textContent = job.status;
        field("description").appendChild(status);
        set("files", fmt(s.files) + (s.total_files ? " of " + fmt(s.total_files) : ""));
        set("bytes", fmt(s.bytes) + " bytes");
        set("files_per_s", fmt(s.files_per_s));
        set("mb_per_s", fmt(s.mb_per_s));
        set("eta_s", job.status === "running" && s.eta_s !== null && s.eta_s !== undefined ? s.eta_s + " s" : "—");
        set("throttle_events", fmt(s.throttle_events));
        set("failed", fmt(s.failed));
        var failure = field("failure");
        if (failure) {
          failure.hidden = job.status !== "failed";
          failure.textContent = job.status === "failed" ? "Why it failed: " + (job.message || "no reason recorded") : "";
        }
        draw(s.series || []);
      })
      .catch(function () { /* a missed poll is retried on the next tick */ });
  }
  update();
  setInterval(update, 2000);
})();
