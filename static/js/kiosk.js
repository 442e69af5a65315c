// The donor kiosk: a scanner input that keeps focus, the camera scanner (camera.js) full screen,
// the idle reset that wipes the previous donor after an "are you still there?" countdown, the
// ticket's auto-return, a screen that stays awake, and the questionnaire's sub-items revealing
// their details.
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
    setCameraStatus(panel.getAttribute("data-hint") || "");
    var close = panel.querySelector("[data-camera-close]");
    if (close) close.focus({ preventScroll: true });
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

  // ----- idle reset, after "are you still there?" -----
  var idleTimer = 0;
  var countdownTimer = 0;
  var countdownLeft = 0;

  function stageSeconds(name) {
    var value = stage ? parseInt(stage.getAttribute(name), 10) : 0;
    return isNaN(value) ? 0 : value;
  }

  function onStartScreen() {
    return !!(stage && stage.querySelector("[data-step='start']"));
  }

  // How long the current step may sit untouched: the ticket and the outcomes say it themselves
  // (data-return-after), the questionnaire gets longer than the other steps.
  function idleSeconds() {
    var step = stage && stage.querySelector("[data-return-after]");
    if (step) return parseInt(step.getAttribute("data-return-after"), 10) || stageSeconds("data-idle-seconds");
    if (stage && stage.querySelector("[data-step^='questionnaire']")) {
      return stageSeconds("data-questionnaire-idle-seconds") || stageSeconds("data-idle-seconds");
    }
    return stageSeconds("data-idle-seconds");
  }

  function stillThereDialog() {
    return document.getElementById("still-there");
  }

  function hideStillThere() {
    clearInterval(countdownTimer);
    countdownTimer = 0;
    var dialog = stillThereDialog();
    if (dialog && !dialog.hidden) {
      dialog.hidden = true;
      focusStep();
    }
  }

  function showCount() {
    var count = document.querySelector("[data-still-there-count]");
    if (count) count.textContent = String(countdownLeft);
  }

  function askStillThere() {
    var dialog = stillThereDialog();
    var seconds = stageSeconds("data-still-there-seconds");
    if (!dialog || !seconds) { resetKiosk(); return; }
    stopCamera();
    countdownLeft = seconds;
    showCount();
    dialog.hidden = false;
    var button = dialog.querySelector("[data-still-there]");
    if (button) button.focus({ preventScroll: true });
    clearInterval(countdownTimer);
    countdownTimer = setInterval(function () {
      countdownLeft -= 1;
      showCount();
      if (countdownLeft <= 0) {
        clearInterval(countdownTimer);
        countdownTimer = 0;
        dialog.hidden = true;
        resetKiosk();
      }
    }, 1000);
  }

  function resetKiosk() {
    if (!stage || !window.htmx) return;
    stopCamera();
    var ks = stage.querySelector("input[name=ks]");
    var values = ks ? { ks: ks.value } : {};
    // Wipe the page first, so nothing of the donor stays even if the request fails.
    stage.innerHTML = "";
    showCancelBar();
    window.htmx.ajax("POST", stage.getAttribute("data-reset-url"),
      { target: "#kiosk-stage", swap: "innerHTML", values: values });
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname);
    }
  }

  // Any touch keeps the donor's screen: it closes the question and starts the wait again.
  function armIdleTimer() {
    clearTimeout(idleTimer);
    hideStillThere();
    var seconds = idleSeconds();
    if (!seconds || onStartScreen()) return;
    // A step that has ended the donor's session already (the consent declined) asks nothing first.
    var direct = !!(stage && stage.querySelector("[data-return-direct]"));
    idleTimer = setTimeout(direct ? resetKiosk : askStillThere, seconds * 1000);
  }

  // ----- a scanner's scan on any step -----
  // A USB or Bluetooth scanner types fast (a few ms a character) and ends with Enter, into
  // whatever has focus: off the start screen that is "Done", a radio or a text box. Such a burst
  // that reads as a pass is caught here: its Enter never presses what has focus, what it typed
  // into a text box is taken out again, and the scan goes to a fresh start screen (the current
  // session closes, as with "Cancel"). The next donor's scan is never lost.
  // A scanner's keys come a few ms apart, but a tablet busy with a swap may hand them over in a
  // lump or late: the burst is what reads as a pass (32 characters of a token, never typed by
  // hand at a kiosk), and the gap only drops what was typed long before it.
  var SCAN_GAP_MS = 500;
  var PASS_IN_TEXT = /(?:^|\/p\/)[A-Za-z0-9_-]{32}\/?$/;
  var PENDING_SCAN = "kiosk-pending-scan";
  var burst = "";
  var burstAt = 0;
  var burstField = null;
  var burstFieldValue = "";
  var pendingScan = "";

  function typingField(element) {
    return element && element.matches && element.matches("input[type=text], input:not([type]), textarea") ? element : null;
  }

  function scanOnAFreshStart(text) {
    pendingScan = text;
    // The reset may load the whole page again (a donor who chose English): the scan waits there.
    try { window.sessionStorage.setItem(PENDING_SCAN, text); } catch (ignored) { /* private mode */ }
    clearTimeout(idleTimer);
    hideStillThere();
    // The screen already wiped (the last donor's time ran out mid-scan): the start screen on its
    // way takes the scan when it comes (htmx:afterSettle), and a second reset would race it.
    if (stage && !stage.innerHTML.trim()) return;
    resetKiosk();
  }

  // Only on the start screen: the reset's own answer may be a redirect that loads it again.
  function sendPendingScan() {
    var input = scanInput();
    if (!onStartScreen() || !input) return;
    if (!pendingScan) {
      try {
        pendingScan = window.sessionStorage.getItem(PENDING_SCAN) || "";
      } catch (ignored) { pendingScan = ""; }
    }
    try { window.sessionStorage.removeItem(PENDING_SCAN); } catch (ignored) { /* private mode */ }
    if (!pendingScan) return;
    input.value = pendingScan;
    pendingScan = "";
    input.form.requestSubmit();
  }

  document.addEventListener("keydown", function (event) {
    if (!stage) return;
    var now = event.timeStamp || Date.now();  // when the key came, not when this ran
    if (onStartScreen()) {
      // The start screen's scan input takes the keys as they are. A scan it came in the middle of
      // (the last donor's screen ran out) began on the screen before: its first keys join the rest.
      var input = scanInput();
      if (burst && now - burstAt < SCAN_GAP_MS && input && document.activeElement === input && !input.value) {
        input.value = burst;
      }
      burst = "";
      return;
    }
    if (event.key === "Enter") {
      var scanned = burst.length >= 32 && now - burstAt < SCAN_GAP_MS && PASS_IN_TEXT.test(burst);
      if (scanned) {
        event.preventDefault();
        event.stopPropagation();
        if (burstField) burstField.value = burstFieldValue;
        scanOnAFreshStart(burst);
      }
      burst = "";
      return;
    }
    if (!event.key || event.key.length !== 1) return;  // Shift between a scanner's capitals
    if (now - burstAt > SCAN_GAP_MS) {
      burst = "";
      burstField = typingField(document.activeElement);
      burstFieldValue = burstField ? burstField.value : "";
    }
    burst += event.key;
    burstAt = now;
  }, true);

  // ----- the language toggle keeps the step and every answer -----
  // The toggle in the header is a plain form that loads the page again: on a step with answers
  // (the questionnaire, "is this you?", the phone's questions) its choice goes instead with that
  // step's form (every answer, hidden or on screen) to the step's own address, which draws the
  // same step again in the language chosen, as a whole page. Nothing goes in the URL.
  function addField(form, name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }

  document.addEventListener("submit", function (event) {
    var toggle = event.target;
    var button = event.submitter;
    var step = document.querySelector("form[data-language-url]");
    if (!toggle.matches(".lang-toggle") || !step || !button || button.name !== "lang") return;
    event.preventDefault();
    var post = document.createElement("form");
    post.method = "post";
    post.action = step.getAttribute("data-language-url");
    post.hidden = true;
    new FormData(step).forEach(function (value, name) {
      if (name !== "action" && name !== "lang") addField(post, name, value);
    });
    addField(post, "action", "language");
    addField(post, "lang", button.value);
    document.body.appendChild(post);
    post.submit();
  });

  // ----- keep the screen on -----
  var wakeLock = null;
  function keepAwake() {
    if (!("wakeLock" in navigator) || document.visibilityState !== "visible") return;
    navigator.wakeLock.request("screen").then(function (lock) { wakeLock = lock; }).catch(function () {});
  }

  // ----- wiring -----
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-camera-open], [data-camera-close], [data-print], [data-still-there], " +
                                      "[data-restart]");
    if (!target) return;
    if (target.hasAttribute("data-still-there")) armIdleTimer();
    if (target.hasAttribute("data-restart")) { clearTimeout(idleTimer); hideStillThere(); resetKiosk(); }
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
    // "None of these" is off while any item of the screen is "yes" (the server never lets it
    // overwrite a "yes" either): the donor answers the rest one by one.
    var form = input.form;
    var shortcut = form && form.querySelector("[data-q-none]");
    if (!shortcut) return;
    var anyYes = !!form.querySelector(".choice-pair > .choice-input[value=yes]:checked");
    shortcut.disabled = anyYes;
    var hint = form.querySelector("[data-q-none-hint]");
    if (hint) hint.hidden = !anyYes;
  });

  // A touch inside the "still there?" question is its buttons' to answer: hiding the question on
  // pointerdown would send the tap's click to whatever lies under it.
  ["pointerdown", "keydown", "touchstart", "input"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var dialog = stillThereDialog();
      if (dialog && !dialog.hidden && event.target && event.target.closest && event.target.closest("#still-there")) {
        return;
      }
      armIdleTimer();
    }, { passive: true });
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target === stage) stopCamera();
  });

  // "Cancel — next person" on every step but the start screen.
  function showCancelBar() {
    var bar = document.querySelector("[data-cancel-bar]");
    if (bar) bar.hidden = !stage || onStartScreen() || !stage.querySelector("[data-step]");
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== stage) return;
    showCancelBar();
    focusStep();
    armIdleTimer();
    window.scrollTo(0, 0);
  });

  document.addEventListener("keydown", function (event) {
    var panel = document.getElementById("camera-panel");
    if (event.key === "Escape" && panel && !panel.hidden) { stopCamera(); focusScanInput(); }
  });

  // A network failure must not leave a blank or half-filled screen behind, nor a silent one: the
  // donor is told, and the scan input is emptied so the next scan is not typed after the last one.
  // (Its nonce stays: the same pass scanned again is a retry; another pass gets a fresh start.)
  function setOffline(offline) {
    var notice = document.getElementById("kiosk-offline");
    if (notice) notice.hidden = !offline;
  }
  document.addEventListener("htmx:sendError", function (event) {
    // A paired tablet with its offline pack answers the step itself (offline-kiosk.js).
    if (window.kioskOffline && window.kioskOffline.ready()) return;
    if (stage && event.detail.target === stage && !stage.innerHTML.trim()) {
      window.location.reload();
      return;
    }
    setOffline(true);
    var input = scanInput();
    if (input && event.detail.elt && event.detail.elt.contains(input)) {
      input.value = "";
      focusScanInput();
    }
  });
  // htmx wires the new start screen's form only once it settles: a scan sent before would be the
  // browser's own submit.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target === stage) sendPendingScan();
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.xhr && event.detail.xhr.status > 0) setOffline(false);
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
    // A step drawn again in another language came as the answer to a post: the address goes back
    // to the kiosk's own, so a reload shows the start screen and never posts the answers again.
    var home = stage && stage.getAttribute("data-start-url");
    if (home && window.location.pathname !== home && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", home);
    }
    hideCameraWhereUnavailable(document);
    showCancelBar();
    focusStep();
    armIdleTimer();
    keepAwake();
    sendPendingScan();  // a scan that reset a donor's English screen, which loads the page again
  });
})();

// ----- the questionnaire in a line (issue 19, item 5): one tap a screen of "no", the bar on screen -----
// On a screen of one item, the answer that asks nothing more ("Không", a "Có" with nothing to add,
// "Tôi đồng ý") sends the screen: the template marks it data-q-advance. The server checks every
// post as before; without script (a slow phone) "Tiếp" does it. On the tablet, the shortcut of a
// screen taller than the tablet first shows the items still below the bar: it never answers a
// question the donor has not seen. A tap meant for the screen just left never answers the next.
(function () {
  "use strict";

  var SETTLE_MS = 400;

  function lastItemSeen(form, bar) {
    var items = form.querySelectorAll("[data-q-item]");
    if (!items.length) return true;
    return items[items.length - 1].getBoundingClientRect().bottom <= bar.getBoundingClientRect().top + 2;
  }

  function holdShortcutUntilSeen(form) {
    var shortcut = form.querySelector("[data-q-none]");
    var bar = form.querySelector(".q-bar");
    var hint = form.querySelector("[data-q-more-hint]");
    if (!shortcut || !bar || !form.closest(".kiosk-step") || lastItemSeen(form, bar)) return;
    shortcut.setAttribute("data-q-held", "");
    if (hint) hint.hidden = false;
    function check() {
      if (!form.isConnected || lastItemSeen(form, bar)) {
        window.removeEventListener("scroll", check);
        window.removeEventListener("resize", check);
      }
      if (form.isConnected && lastItemSeen(form, bar)) {
        shortcut.removeAttribute("data-q-held");
        if (hint) hint.hidden = true;
      }
    }
    window.addEventListener("scroll", check, { passive: true });
    window.addEventListener("resize", check, { passive: true });
  }

  function enhanceQuestions(root) {
    root.querySelectorAll("form.q-form:not([data-q-auto])").forEach(function (form) {
      form.setAttribute("data-q-auto", "");
      form.setAttribute("data-q-settling", "");
      setTimeout(function () { form.removeAttribute("data-q-settling"); }, SETTLE_MS);
      holdShortcutUntilSeen(form);
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    var held = target.closest("[data-q-none][data-q-held]");
    if (held) {
      event.preventDefault();
      window.scrollTo({ top: document.documentElement.scrollHeight, behavior: "smooth" });
      return;
    }
    if (!target.matches("input[data-q-advance]") || !target.checked) return;
    var form = target.form;
    if (!form || !form.hasAttribute("data-q-auto") || form.hasAttribute("data-q-sent")) return;
    form.setAttribute("data-q-sent", "");
    form.requestSubmit(form.querySelector("[data-q-next]"));
  }, true);

  // After the kiosk's own handler (it scrolls the new step to the top), so the bar is measured there.
  document.addEventListener("htmx:afterSwap", function (event) { enhanceQuestions(event.detail.target); });
  document.addEventListener("DOMContentLoaded", function () { enhanceQuestions(document); });
})();
