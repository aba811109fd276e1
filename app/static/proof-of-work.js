// The sign form's proof of work (ALTCHA's SHA-256 challenge): find the number n for which
// SHA-256(salt + n) is the challenge, then send it with the form in the hidden field "altcha".
// Loaded by the page, this file starts a Web Worker from itself (same origin: the CSP allows it) and solves there;
// without workers it solves on the page in short slices. Without this script, or if solving fails, the form still
// signs: the server then applies a tighter limit per network address.
(function () {
  "use strict";
  var BATCH = 500;  // digests awaited together: large enough to keep WebCrypto busy, small enough to stop soon

  function hexToBytes(hex) {
    var bytes = new Uint8Array(hex.length / 2);
    for (var i = 0; i < bytes.length; i += 1) { bytes[i] = parseInt(hex.substr(i * 2, 2), 16); }
    return bytes;
  }

  function same(buffer, target) {
    var bytes = new Uint8Array(buffer);
    if (bytes.length !== target.length) { return false; }
    for (var i = 0; i < bytes.length; i += 1) { if (bytes[i] !== target[i]) { return false; } }
    return true;
  }

  // Resolves with the number, or null when none up to maxNumber matches. `pause` (on the page) yields between
  // batches so that typing stays smooth.
  function solve(challenge, subtle, pause) {
    var target = hexToBytes(challenge.challenge);
    var encoder = new TextEncoder();
    var started = Date.now();

    function batch(from) {
      if (from > challenge.maxnumber) { return Promise.resolve(null); }
      var last = Math.min(from + BATCH - 1, challenge.maxnumber);
      var digests = [];
      for (var n = from; n <= last; n += 1) {
        digests.push(subtle.digest("SHA-256", encoder.encode(challenge.salt + n)));
      }
      return Promise.all(digests).then(function (results) {
        for (var i = 0; i < results.length; i += 1) {
          if (same(results[i], target)) { return {number: from + i, took: Date.now() - started}; }
        }
        return pause().then(function () { return batch(last + 1); });
      });
    }
    return batch(0);
  }

  // --- inside the worker: solve what the page sends, answer once ------------------------------------------------
  if (typeof document === "undefined") {
    self.onmessage = function (event) {
      solve(event.data, self.crypto.subtle, function () { return Promise.resolve(); }).then(
        function (found) { self.postMessage(found); },
        function () { self.postMessage(null); }
      );
    };
    return;
  }

  // --- on the page -------------------------------------------------------------------------------------------------
  var field = document.getElementById("altcha");
  var status = document.getElementById("proof-of-work-status");
  var form = field ? field.form : null;
  if (!form || !field.getAttribute("data-challenge")) { return; }
  var challenge = JSON.parse(field.getAttribute("data-challenge"));
  var script = document.currentScript;
  var state = "solving";  // then "solved" or "failed"; either way the form may go
  var waiting = null;     // {submitter}: Sign was pressed while still solving

  // The status line is a live region from the start (role="status"), empty until there is something to say:
  // screen readers announce a change of its text, not an element that appears.
  function say(text) {
    if (status) { status.textContent = text || ""; }
  }

  function finish(found) {
    if (state !== "solving") { return; }
    state = found ? "solved" : "failed";
    if (found) {
      field.value = btoa(JSON.stringify({
        algorithm: challenge.algorithm,
        challenge: challenge.challenge,
        number: found.number,
        salt: challenge.salt,
        signature: challenge.signature
      }));
      form.setAttribute("data-proof-of-work", "solved");
    }
    if (waiting) {
      var submitter = waiting.submitter;
      waiting = null;
      say(status ? status.getAttribute("data-sending") : "");
      if (form.requestSubmit) { form.requestSubmit(submitter); } else { form.submit(); }
    }
  }

  function onThePage() {
    var subtle = window.crypto && window.crypto.subtle;
    if (!subtle) { finish(null); return; }
    var pause = function () { return new Promise(function (resolve) { setTimeout(resolve, 0); }); };
    solve(challenge, subtle, pause).then(finish, function () { finish(null); });
  }

  function inAWorker() {
    var worker;
    try {
      worker = new Worker(script.src);
    } catch (error) {
      onThePage();
      return;
    }
    worker.onmessage = function (event) { finish(event.data); worker.terminate(); };
    worker.onerror = function (event) {
      event.preventDefault();
      worker.terminate();
      onThePage();
    };
    worker.postMessage(challenge);
  }

  form.addEventListener("submit", function (event) {
    if (state !== "solving") { return; }
    var submitter = event.submitter || null;
    if (submitter && submitter.name === "choose_country") { return; }  // the no-script button sends no statement
    event.preventDefault();
    waiting = {submitter: submitter};
    say(status ? status.getAttribute("data-checking") : "");
  });

  if (window.Worker && script && script.src) { inAWorker(); } else { onThePage(); }
})();
