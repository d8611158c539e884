// Live updates and confirmations for the Ephemera dashboard. The pages work without it; this only keeps them current.
/* global document, window, EventSource */
(function () {
  'use strict';
  var body = document.body;
  var live = body.getAttribute('data-live');
  if (live && window.EventSource) {
    var source = new EventSource(live);
    // Says whether the live view is connected (for people's tools and the browser tests alike).
    source.onopen = function () {
      body.setAttribute('data-live-state', 'open');
    };
    source.onerror = function () {
      body.setAttribute('data-live-state', 'reconnecting');
    };
    // Each message names element ids and the markup the server rendered (and escaped) for them.
    source.onmessage = function (event) {
      var parts = JSON.parse(event.data);
      Object.keys(parts).forEach(function (id) {
        var element = document.getElementById(id);
        if (element && element.innerHTML !== parts[id]) element.innerHTML = parts[id];
      });
    };
    // Log text is appended as text, never parsed as markup.
    source.addEventListener('log', function (event) {
      var data = JSON.parse(event.data);
      var logs = document.getElementById('logs');
      if (!logs) return;
      var atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 8;
      if (data.restarted) logs.textContent = '';
      logs.textContent += data.text;
      if (atBottom) logs.scrollTop = logs.scrollHeight;
    });
    source.addEventListener('signed-out', function () {
      source.close();
      window.location.assign('/sign-in');
    });
    // What the page shows is no longer the viewer's to see (access withdrawn, or GitHub's answer too old to go by):
    // the page is loaded again, and the server says why.
    ['gone', 'unavailable'].forEach(function (name) {
      source.addEventListener(name, function () {
        source.close();
        body.setAttribute('data-live-state', 'closed');
        window.location.reload();
      });
    });
  }
  document.addEventListener('submit', function (event) {
    var message = event.target.getAttribute('data-confirm');
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
