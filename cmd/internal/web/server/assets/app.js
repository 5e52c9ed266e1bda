// git loop web: keeps the loops table current by polling its rows (every
// 3 s while the tab is visible; at once when it comes back into view).
// Served as a file so the Content-Security-Policy can forbid inline script.
"use strict";
(function () {
  var live = document.getElementById("live");
  var rows = document.getElementById("rows");
  if (!live) return;
  var src = live.getAttribute("data-src");
  var last = rows ? rows.innerHTML : "";
  function tick() {
    if (document.hidden) return; // nobody looking: no ls on the server
    fetch(src, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.text();
      })
      .then(function (html) {
        live.classList.remove("stale");
        live.textContent = "live";
        if (html.trim() === last.trim()) return;
        last = html;
        if (!rows || (html.trim() === "") !== (rows.children.length === 0)) {
          location.reload();
          return;
        }
        // The server rendered and escaped these rows itself.
        rows.innerHTML = html;
      })
      .catch(function () {
        live.classList.add("stale");
        live.textContent = "reconnecting";
      });
  }
  setInterval(tick, 3000);
  document.addEventListener("visibilitychange", tick);
})();
