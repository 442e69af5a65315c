// The donor kiosk: a scanner input that keeps focus, the camera scanner (camera.js), the idle
// reset that wipes the previous donor, the ticket's auto-return, a screen that stays awake, and
// the questionnaire's sub-items revealing their details.
(function () {
  "use strict";

  var stage = document.getElementById("kiosk-stage");
  var scanner = null;  // the camera while it reads (camera.js)

  function scanInput() {
    return document.querySelector("[data-scan-input]");
  }

  // A USB or Bluetooth scanner types into whatever has focus: on the start screen that must
  // always be the scan input, whatever the donor touched before.
  function focusScanInput() {
    var input = scanInput();
    var active = document.activeElement;
    if (!input) return;
    if (active && active !== input && active !== document.body && active.closest("form") &&
        !active.closest(".scan-form")) return;
    input.focus({ preventScroll: true });
  }

  function focusStep() {
    var target = stage && stage.querySelector("[data-autofocus]");
    if (target) {
      target.focus({ preventScroll: true });
    } else {
      focusScanInput();
    }
  }

  // ----- the camera (camera.js reads the code) -----
  function setCameraStatus(text) {
    var status = document.getElementById("camera-status");
    if (status) status.textContent = text;
  }

  function stopCamera() {
    if (scanner) scanner.stop();
    scanner = null;
    var panel = document.getElementById("camera-panel");
    if (panel) panel.hidden = true;
  }

  function startCamera() {
    var panel = document.getElementById("camera-panel");
    var video = document.getElementById("camera-video");
    var canvas = document.getElementById("camera-canvas");
    if (!panel || !video || !canvas) return;
    var unavailable = panel.getAttribute("data-unavailable") || "Camera unavailable";
    panel.hidden = false;
    if (!window.qrCamera || !window.qrCamera.supported()) {
      setCameraStatus(unavailable);
      return;
    }
    if (scanner) scanner.stop();
    scanner = window.qrCamera.scan(video, {
      canvas: canvas,
      onCode: function (text) {
        var input = scanInput();
        stopCamera();
        if (input) {
          input.value = text;
          input.form.requestSubmit();
        }
      },
      onError: function () { setCameraStatus(unavailable); }
    });
  }

  // ----- idle reset -----
  var idleTimer = 0;
  var ticketTimer = 0;

  function idleSeconds() {
    var value = stage ? parseInt(stage.getAttribute("data-idle-seconds"), 10) : 0;
    return isNaN(value) ? 0 : value;
  }

  function onStartScreen() {
    return !!(stage && stage.querySelector("[data-step='start']"));
  }

  function resetKiosk() {
    if (!stage || !window.htmx) return;
    stopCamera();
    var ks = stage.querySelector("input[name=ks]");
    var values = ks ? { ks: ks.value } : {};
    // Wipe the page first, so nothing of the donor stays even if the request fails.
    stage.innerHTML = "";
    window.htmx.ajax("POST", stage.getAttribute("data-reset-url"),
      { target: "#kiosk-stage", swap: "innerHTML", values: values });
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname);
    }
  }

  function armIdleTimer() {
    clearTimeout(idleTimer);
    var seconds = idleSeconds();
    if (!seconds || onStartScreen()) return;
    idleTimer = setTimeout(resetKiosk, seconds * 1000);
  }

  function armTicketTimer() {
    clearTimeout(ticketTimer);
    var ticket = stage && stage.querySelector("[data-return-after]");
    if (!ticket) return;
    var seconds = parseInt(ticket.getAttribute("data-return-after"), 10) || 30;
    ticketTimer = setTimeout(resetKiosk, seconds * 1000);
  }

  // ----- keep the screen on -----
  var wakeLock = null;
  function keepAwake() {
    if (!("wakeLock" in navigator) || document.visibilityState !== "visible") return;
    navigator.wakeLock.request("screen").then(function (lock) { wakeLock = lock; }).catch(function () {});
  }

  // ----- wiring -----
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-camera-open], [data-camera-close], [data-print]");
    if (!target) return;
    if (target.hasAttribute("data-camera-open")) startCamera();
    if (target.hasAttribute("data-camera-close")) { stopCamera(); focusScanInput(); }
    if (target.hasAttribute("data-print")) window.print();
  });

  // A "yes" on a sub-item that asks for more (which vaccine, which illness, when) reveals it; the
  // stylesheet does the same with :has() where the browser knows it. The server checks it all.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(".choice-pair > .choice-input")) return;
    var item = input.closest("[data-q-item]");
    if (item) item.classList.toggle("q-item-yes", input.value === "yes" && input.checked);
  });

  ["pointerdown", "keydown", "touchstart", "input"].forEach(function (name) {
    document.addEventListener(name, armIdleTimer, { passive: true });
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target === stage) stopCamera();
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== stage) return;
    clearTimeout(ticketTimer);
    focusStep();
    armIdleTimer();
    armTicketTimer();
    window.scrollTo(0, 0);
  });

  // A network failure must not leave a blank or half-filled screen behind.
  document.addEventListener("htmx:sendError", function (event) {
    if (stage && event.detail.target === stage && !stage.innerHTML.trim()) {
      window.location.reload();
    }
  });

  document.addEventListener("focusout", function () {
    if (onStartScreen()) setTimeout(focusScanInput, 150);
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") keepAwake();
  });

  // Browsers give the camera only to secure pages (HTTPS, or this machine itself): on plain HTTP
  // over the venue's Wi-Fi the button would only disappoint, so it is hidden and the scanner is used.
  function hideCameraWhereUnavailable(root) {
    if (window.isSecureContext && navigator.mediaDevices) return;
    (root || document).querySelectorAll("[data-camera-open]").forEach(function (button) { button.hidden = true; });
  }
  document.addEventListener("htmx:load", function (event) { hideCameraWhereUnavailable(event.target); });

  document.addEventListener("DOMContentLoaded", function () {
    hideCameraWhereUnavailable(document);
    focusStep();
    armIdleTimer();
    armTicketTimer();
    keepAwake();
  });
})();
