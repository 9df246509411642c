// Keeps live-status tables current by polling the JSON API every two seconds.
// Without JavaScript the page still shows the status as of its loading.
(function () {
  "use strict";
  function fmt(n) { return n === null || n === undefined ? "" : n.toLocaleString("en-GB"); }
  function update(table) {
    fetch(table.dataset.liveJobs, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        body.items.forEach(function (job) {
          var row = table.querySelector('tr[data-job="' + job.id + '"]');
          if (!row) { return; }
          var bar = row.querySelector('[data-field="progress"]');
          bar.max = job.total || 1; bar.value = job.done;
          row.querySelector('[data-field="count"]').textContent =
            fmt(job.done) + (job.total ? " of " + fmt(job.total) : "");
          row.querySelector('[data-field="status"]').textContent = job.status;
          row.querySelector('[data-field="rate"]').textContent = job.rate_per_s ? job.rate_per_s + "/s" : "";
          row.querySelector('[data-field="eta"]').textContent = job.eta_s !== null ? job.eta_s + " s" : "";
          var message = row.querySelector('[data-field="message"]');
          if (message) { message.textContent = job.message || ""; }
          // A page showing the work it started shows the result once it has ended.
          if (row.hasAttribute("data-reload-when-done") && job.status !== "running") {
            row.removeAttribute("data-reload-when-done");
            window.location.reload();
          }
        });
      })
      .catch(function () { /* a missed poll is retried on the next tick */ });
  }
  document.querySelectorAll("table[data-live-jobs]").forEach(function (table) {
    setInterval(function () { update(table); }, 2000);
  });
})();
