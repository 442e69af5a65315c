// Nurse station: camera scanning of queue tickets, the queue's filter by number or name, and what
// to do when the session has ended.
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

  document.addEventListener("DOMContentLoaded", setUpCamera);
  // htmx wires the form's triggers on DOMContentLoaded too; "load" comes after every handler of it.
  window.addEventListener("load", suggestForEarlyTyping);
})();
