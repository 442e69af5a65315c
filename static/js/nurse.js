// Nurse station: camera scanning of queue tickets, and what to do when the session has ended.
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

  document.addEventListener("DOMContentLoaded", setUpCamera);
})();
