// Nurse station: camera scanning of queue tickets, the queue's filter by number or name, the
// decision's fields as the decision needs them, and what to do when the session has ended.
(function () {
  "use strict";

  // A poll or a suggestion refused with 401: the session ended (idle timeout, signed out
  // elsewhere). Reloading the page takes the nurse to the sign-in page, then back here.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (xhr && xhr.status === 401) {
      window.location.reload();
    }
  });

  // Camera scanning (camera.js): only where the browser allows the camera (HTTPS or localhost)
  // and the decoder is loaded. A USB scanner needs none of this: it types into the focused field.
  function setUpCamera() {
    var start = document.getElementById("camera-start");
    var panel = document.getElementById("camera");
    var video = document.getElementById("camera-video");
    var stop = document.getElementById("camera-stop");
    var input = document.getElementById("query");
    var form = document.getElementById("find-form");
    if (!start || !panel || !video || !input || !form) { return; }
    if (!window.isSecureContext || !window.qrCamera || !window.qrCamera.supported()) { return; }
    start.hidden = false;
    var scanner = null;

    function close() {
      if (scanner) { scanner.stop(); }
      scanner = null;
      panel.hidden = true;
      start.hidden = false;
    }
    start.addEventListener("click", function () {
      if (scanner) { scanner.stop(); }
      scanner = window.qrCamera.scan(video, {
        onOpen: function () {
          panel.hidden = false;
          start.hidden = true;
        },
        onCode: function (text) {
          input.value = text;
          close();
          form.requestSubmit();
        },
        onError: function () {
          close();
          var status = document.getElementById("camera-status");
          if (status) { status.textContent = start.getAttribute("data-denied") || ""; }
        }
      });
    });
    if (stop) { stop.addEventListener("click", close); }
  }

  // ----- the queue's filter: by queue number (its first digits) or by name, accents or not -----
  function fold(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase().trim();
  }

  function filterQueue() {
    var input = document.getElementById("queue-filter");
    var result = document.getElementById("queue-filter-result");
    if (!input) { return; }
    var query = fold(input.value);
    var digits = /^\d+$/.test(query);
    var shown = 0;
    var finishedShown = 0;
    document.querySelectorAll("#queue tr.queue-row").forEach(function (row) {
      var match = !query || (digits ? (row.getAttribute("data-queue-number") || "").indexOf(query) === 0
                                    : fold(row.getAttribute("data-queue-name")).indexOf(query) !== -1);
      row.hidden = !match;
      if (match) {
        shown += 1;
        if (row.closest("#queue-finished")) { finishedShown += 1; }
      }
    });
    var finished = document.getElementById("queue-finished");
    if (query && finished && finishedShown) { finished.open = true; }
    if (result) { result.textContent = query && !shown ? result.getAttribute("data-none") : ""; }
  }

  // The queue is polled and swapped whole: the nurse's filter and the open "finished" list stay.
  var finishedOpen = false;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var finished = document.getElementById("queue-finished");
    if (event.detail.target && event.detail.target.id === "queue") { finishedOpen = !!(finished && finished.open); }
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!document.getElementById("queue")) { return; }
    var finished = document.getElementById("queue-finished");
    if (finished && finishedOpen) { finished.open = true; }
    finishedOpen = false;
    filterQueue();
  });
  document.addEventListener("input", function (event) {
    if (event.target && event.target.id === "queue-filter") { filterQueue(); }
  });

  // Vitals typed before this script ran (a slow laptop) fired no "input" that htmx saw: ask for
  // the suggestion once now, as typing would have.
  function suggestForEarlyTyping() {
    var form = document.getElementById("screening-form");
    if (!form || !window.htmx) { return; }
    var typed = Array.prototype.some.call(form.querySelectorAll("input[type=text], input:not([type])"),
      function (input) { return input.value !== input.defaultValue; });
    if (typed) { window.htmx.trigger(form, "change"); }
  }

  // ----- the decision's fields: only those the chosen decision needs -----
  // nurse.css shows the return date and the reason by the decision chosen; this marks the two
  // that depend on the suggestion too, as kiosk/screening/decision_checks.py decides them: the
  // override's reason when the decision goes against the suggestion, the checks' reason when
  // accepting with no identity document seen or no haemoglobin. A field with words in it stays.
  function chosen(form, name) {
    var input = form.querySelector("input[name=" + name + "]:checked");
    return input ? input.value : "";
  }

  function isOverride(decision, volume, suggestion) {
    var eligible = suggestion.getAttribute("data-eligible") === "true";
    var allowed = (suggestion.getAttribute("data-allowed-volumes") || "").split(" ");
    if (decision === "accepted") { return !eligible || (volume !== "" && allowed.indexOf(volume) === -1); }
    if (eligible) { return true; }
    return decision === "deferred_temporary" && suggestion.getAttribute("data-permanent") === "true";
  }

  function markNeeded(form, name, needed) {
    var box = form.querySelector("[data-needs=" + name + "]");
    var text = document.getElementById((form.getAttribute("data-prefix") || "") + name);
    if (box) { box.classList.toggle("is-needed", needed || !!(text && text.value.trim())); }
  }

  // The decision's form, and its correction once the decision is saved (the same rules; the
  // haemoglobin is then the one saved with the decision).
  function showNeededFields() {
    var suggestion = document.getElementById("suggestion");
    if (!suggestion) { return; }
    var haemoglobin = document.getElementById("haemoglobin_g_l");
    var saved = document.querySelector(".decision-meta[data-haemoglobin]");
    var measured = haemoglobin ? !!haemoglobin.value.trim() : !!(saved && saved.getAttribute("data-haemoglobin"));
    ["screening-form", "correct-decision-form"].forEach(function (id) {
      var form = document.getElementById(id);
      if (!form) { return; }
      var decision = chosen(form, "decision");
      markNeeded(form, "override_reason", decision !== "" && isOverride(decision, chosen(form, "volume_ml"), suggestion));
      markNeeded(form, "checks_reason", decision === "accepted" &&
        (chosen(form, "identity_document") === "" || !measured));
    });
  }

  document.addEventListener("change", showNeededFields);
  document.addEventListener("input", showNeededFields);
  // A new suggestion (htmx) can turn the same choice into an override, or back.
  document.addEventListener("htmx:afterSettle", showNeededFields);

  document.addEventListener("DOMContentLoaded", setUpCamera);
  document.addEventListener("DOMContentLoaded", showNeededFields);
  // htmx wires the form's triggers on DOMContentLoaded too; "load" comes after every handler of it.
  window.addEventListener("load", suggestForEarlyTyping);
})();
