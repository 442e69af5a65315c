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

  // Camera scanning: only where the browser allows the camera (HTTPS or localhost) and the
  // decoder is loaded. A USB scanner needs none of this: it types into the focused field.
  function setUpCamera() {
    var start = document.getElementById("camera-start");
    var panel = document.getElementById("camera");
    var video = document.getElementById("camera-video");
    var stop = document.getElementById("camera-stop");
    var input = document.getElementById("query");
    var form = document.getElementById("find-form");
    if (!start || !panel || !video || !input || !form) { return; }
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.jsQR) {
      return;
    }
    start.hidden = false;
    var stream = null;
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });

    function close() {
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
      stream = null;
      panel.hidden = true;
      start.hidden = false;
    }
    function scan() {
      if (!stream) { return; }
      if (video.readyState === video.HAVE_ENOUGH_DATA) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        var image = context.getImageData(0, 0, canvas.width, canvas.height);
        var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
        if (code && code.data) {
          input.value = code.data;
          close();
          form.requestSubmit();
          return;
        }
      }
      window.requestAnimationFrame(scan);
    }
    start.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
        stream = s;
        video.srcObject = s;
        panel.hidden = false;
        start.hidden = true;
        return video.play();
      }).then(function () {
        window.requestAnimationFrame(scan);
      }).catch(function () {
        close();
        var status = document.getElementById("camera-status");
        if (status) { status.textContent = start.getAttribute("data-denied") || ""; }
      });
    });
    if (stop) { stop.addEventListener("click", close); }
  }

  document.addEventListener("DOMContentLoaded", setUpCamera);
})();
