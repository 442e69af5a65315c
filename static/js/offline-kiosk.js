// The kiosk through a network drop (issue 20). A paired tablet keeps an offline pack for its site
// (pass digests, greeting names, the steps' markup drawn by the server from the kiosk's own
// templates in both languages, the queue numbers set aside for it). When a request fails or takes
// too long, the kiosk goes on by itself: the same screens, the pack's markup, the numbers of its
// block; each check-in is queued with its nonce and the tablet's time, and kept until the server
// has answered it. Uploads run on page load, on a timer and after every request that succeeds:
// never on Background Sync, which Android WebView does not have. A refused tablet wipes it all.
(function () {
  "use strict";

  var stage = document.getElementById("kiosk-stage");
  if (!stage || !stage.hasAttribute("data-offline-pack-url") || !window.localStorage) return;

  var site = stage.getAttribute("data-site");
  var PACK = "kiosk-offline-pack:" + site;
  var QUEUE = "kiosk-offline-queue:" + site;
  var USED = "kiosk-offline-used:" + site;  // numbers this tablet gave, until the server has them
  var DONE = "kiosk-offline-done:" + site;  // passes checked in here offline: {digest: {number, at}}
  var packUrl = stage.getAttribute("data-offline-pack-url");
  var uploadUrl = stage.getAttribute("data-offline-upload-url");
  var packSeconds = parseInt(stage.getAttribute("data-offline-pack-seconds"), 10) || 180;
  var retrySeconds = parseInt(stage.getAttribute("data-offline-retry-seconds"), 10) || 15;
  var timeoutMs = parseInt(stage.getAttribute("data-offline-timeout-ms"), 10) || 5000;
  var SKIPPED = { csrf_token: 1, step: 1, nonce: 1, ks: 1, action: 1, lang: 1 };
  var PASS_IN_TEXT = /(?:^|\/p\/)([A-Za-z0-9_-]{32})\/?$/;

  var pack = load(PACK, null);
  var byDigest = index(pack);
  var online = true;
  var flow = null;  // the donor on screen, offline: {digest, walkIn, sex, given, phoneAt, answers, step}
  var lastScanned = "";
  var redraw = null;  // the step on screen drawn again (the language toggle, offline)

  function load(key, fallback) {
    try {
      var value = window.localStorage.getItem(key);
      return value ? JSON.parse(value) : fallback;
    } catch (ignored) { return fallback; }
  }
  function save(key, value) { window.localStorage.setItem(key, JSON.stringify(value)); }

  function index(found) {
    var map = {};
    ((found && found.passes) || []).forEach(function (entry) { map[entry.digest] = entry; });
    return map;
  }

  function ready() { return !!(pack && pack.steps); }
  function steps() { return pack.steps[document.documentElement.lang] || pack.steps.vi; }

  // ----- the banner: "Đang ngoại tuyến — N lượt chờ gửi" -----
  function showBanner() {
    var banner = document.getElementById("kiosk-offline-banner");
    if (!banner) return;
    var waiting = load(QUEUE, []).length;
    banner.hidden = online && waiting === 0;
    var words = banner.getAttribute(online ? "data-sending" : "data-offline") || "";
    banner.textContent = words.replace("{n}", String(waiting));
    banner.setAttribute("data-state", online ? "sending" : "offline");
    var old = document.getElementById("kiosk-offline");
    if (old && ready()) old.hidden = true;  // the pack carries on: no "try again" for the donor
  }

  function setOnline(value) {
    online = value;
    showBanner();
  }

  // ----- talking to the server: the device's credential (its cookie) and a header no form can send -----
  function send(method, url, body) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs) : 0;
    return fetch(url, {
      method: method, credentials: "same-origin", cache: "no-store",
      headers: { "X-Kiosk-Device": "1", "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined, signal: controller ? controller.signal : undefined
    }).then(function (response) {
      clearTimeout(timer);
      if (response.status === 403) {
        return response.json().then(function (answer) {
          if (answer && answer.wipe) wipe();
          throw new Error("refused");
        });
      }
      if (!response.ok) throw new Error("status " + response.status);
      return response.json();
    }, function (error) { clearTimeout(timer); throw error; });
  }

  // A revoked tablet, or one no longer paired: nothing of the drive stays on it.
  function wipe() {
    [PACK, QUEUE, USED, DONE].forEach(function (key) { window.localStorage.removeItem(key); });
    pack = null;
    byDigest = {};
    if (window.caches) {
      window.caches.keys().then(function (names) {
        names.forEach(function (name) { if (name.indexOf("kiosk-") === 0) window.caches.delete(name); });
      });
    }
    if (navigator.serviceWorker && navigator.serviceWorker.getRegistrations) {
      navigator.serviceWorker.getRegistrations().then(function (all) {
        all.forEach(function (registration) { registration.unregister(); });
      });
    }
  }

  function refreshPack() {
    var have = pack && pack.steps ? "?have=" + encodeURIComponent(pack.steps_version || "") : "";
    return send("GET", packUrl + have).then(function (fresh) {
      if (!fresh.steps && pack && pack.steps && pack.steps_version === fresh.steps_version) fresh.steps = pack.steps;
      var given = load(USED, []).filter(function (number) { return fresh.numbers.indexOf(number) >= 0; });
      var done = load(DONE, {});
      Object.keys(done).forEach(function (digest) {
        var known = fresh.passes.filter(function (entry) { return entry.digest === digest; })[0];
        if (known && known.checked_in && !waitingFor(digest)) delete done[digest];
      });
      save(USED, given);
      save(DONE, done);
      fresh.fetched_at = Date.now();
      pack = fresh;
      byDigest = index(fresh);
      save(PACK, fresh);
      setOnline(true);
    }).catch(function () { if (pack) setOnline(false); });
  }

  function waitingFor(digest) {
    return load(QUEUE, []).some(function (action) { return action.digest === digest; });
  }

  // The queue goes up in order; an action leaves the tablet only once the server has answered it.
  var sending = false;
  function flush() {
    if (sending || !pack) return;
    var queue = load(QUEUE, []);
    if (!queue.length && online) return;
    sending = true;
    send("POST", uploadUrl, { actions: queue.slice(0, 50) }).then(function (answer) {
      var acknowledged = {};
      answer.answers.forEach(function (item) { acknowledged[item.nonce] = true; });
      save(QUEUE, load(QUEUE, []).filter(function (action) { return !acknowledged[action.nonce]; }));
      setOnline(true);
      if (queue.length) refreshPack();
    }).catch(function () { if (pack) setOnline(false); }).then(function () {
      sending = false;
      showBanner();
    });
  }

  // ----- the steps, drawn from the pack -----
  function fillIn(root, values) {
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(function (node) {
      Object.keys(values).forEach(function (key) {
        var mark = key === "time" ? steps().time_sample : "\u2063" + key + "\u2063";
        if (node.nodeValue.indexOf(mark) < 0) return;
        if (values[key] === "" && node.nodeValue.trim() === mark && node.parentNode) {
          node.parentNode.remove();  // a line with nothing to say (no rank, no unit)
          return;
        }
        node.nodeValue = node.nodeValue.split(mark).join(values[key]);
      });
    });
  }

  function newNonce() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function show(html, values) {
    stage.innerHTML = html;
    fillIn(stage, values || {});
    stage.querySelectorAll("input[name=nonce]").forEach(function (input) { input.value = newNonce(); });
    var token = document.querySelector("meta[name=csrf-token]");  // the page's own, for when the server is back
    if (token) {
      stage.querySelectorAll("input[name=csrf_token]").forEach(function (input) { input.value = token.content; });
    }
    window.htmx.process(stage);
    ["htmx:afterSwap", "htmx:load", "htmx:afterSettle"].forEach(function (name) {
      window.htmx.trigger(stage, name, { target: stage, elt: stage });
    });
  }

  function notice(text) {
    if (!text) return;
    var note = document.createElement("p");
    note.className = "notice notice-error";
    note.setAttribute("role", "alert");
    note.textContent = text;
    var before = stage.querySelector(".q-items, .kiosk-form, form") || stage.firstElementChild;
    if (before && before.parentNode) before.parentNode.insertBefore(note, before);
  }

  function showStart(text) {
    flow = null;
    redraw = function () { show(steps().start); notice(text); };
    redraw();
  }

  function localTime(iso) {
    if (!iso) return "";
    try {
      return new Date(iso).toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit", hour12: false,
                                                           timeZone: pack.zone || undefined });
    } catch (ignored) { return ""; }
  }

  function outcome(name, values) {
    flow = null;
    redraw = function () { show(steps().outcomes[name], values); };
    redraw();
  }

  // The pass scanned -> its entry in the pack (or an outcome shown, and nothing).
  function lookUp(text, then) {
    var match = PASS_IN_TEXT.exec((text || "").trim());
    if (!match) { outcome("unknown"); return; }
    sha256(match[1]).then(function (digest) {
      var entry = byDigest[digest];
      var mine = load(DONE, {})[digest];
      if (!entry) { outcome("unknown"); return; }
      if (mine || entry.checked_in) {
        outcome("already", { number: String(mine ? mine.number : entry.number),
                             time: localTime(mine ? mine.at : entry.checked_in_at) });
        return;
      }
      flow = { digest: digest, sex: entry.sex, given: entry.given, phoneAt: entry.phone_at, answers: {} };
      then(entry);
    });
  }

  function scanned(text) {
    lookUp(text, function (entry) {
      redraw = function () {
        show(steps().confirm, { name: entry.name, rank: entry.rank, department: entry.department });
      };
      redraw();
    });
  }

  // A donor whose step the server drew (online) and whose next request failed: carried on here,
  // from the pass scanned last on this tablet. (A walk-in's earlier steps cannot be: back to the start.)
  function resume(then) {
    if (flow) { then(); return; }
    if (lastScanned) { lookUp(lastScanned, then); return; }
    showStart();
  }

  function confirmed() {
    resume(function () {
      if (flow.phoneAt) {
        redraw = function () { show(steps().phone_answers, { time: localTime(flow.phoneAt) }); };
        redraw();
        return;
      }
      question(0);
    });
  }

  // ----- the questionnaire, a screen at a time, as the server's own screens -----
  function question(step, error) {
    var screens = steps().questionnaire[flow.sex] || steps().questionnaire.M;
    flow.step = Math.max(0, Math.min(step, screens.length - 1));
    redraw = function () { question(flow.step, error); };
    show(screens[flow.step]);
    var form = stage.querySelector("form.q-form");
    if (!form) return;
    Object.keys(flow.answers).forEach(function (name) { restore(form, name, flow.answers[name]); });
    notice(error);
  }

  function restore(form, name, value) {
    var fields = Array.prototype.filter.call(form.elements, function (el) { return el.name === name; });
    var radios = fields.filter(function (el) { return el.type === "radio"; });
    if (radios.length) {
      radios.forEach(function (radio) { radio.checked = radio.value === value; });
      var item = radios[0].closest("[data-q-item]");
      if (item) item.classList.toggle("q-item-yes", value === "yes");
      return;
    }
    if (fields.length) { fields[0].value = value; return; }
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = name;
    hidden.value = value;
    form.appendChild(hidden);
  }

  function answered(data) {
    if (!flow) {
      resume(function () {
        flow.step = parseInt(data.get("step"), 10) || 0;
        answered(data);
      });
      return;
    }
    var form = stage.querySelector("form.q-form");
    var action = data.get("action") || "next";
    data.forEach(function (value, name) { if (!SKIPPED[name]) flow.answers[name] = String(value); });
    var names = [];
    if (form) {
      form.querySelectorAll(".choice-pair > .choice-input").forEach(function (input) {
        if (names.indexOf(input.name) < 0) names.push(input.name);
      });
    }
    if (action === "back") { question(flow.step - 1); return; }
    var mustBeYes = pack.must_be_yes || [];
    if (action === "none") names.forEach(function (name) { if (!flow.answers[name]) flow.answers[name] = "no"; });
    if (names.some(function (name) { return mustBeYes.indexOf(name) >= 0 && flow.answers[name] === "no"; })) {
      outcome("declined");
      return;
    }
    if (names.some(function (name) { return !flow.answers[name]; })) {
      question(flow.step, steps().texts.answer_all);
      return;
    }
    var screens = steps().questionnaire[flow.sex] || steps().questionnaire.M;
    if (flow.step < screens.length - 1) { question(flow.step + 1); return; }
    finish(flow.answers);
  }

  function walkedIn(data) {
    var fields = {};
    data.forEach(function (value, name) { if (!SKIPPED[name]) fields[name] = String(value).trim(); });
    var needed = ["full_name", "date_of_birth", "sex", "id_number", "phone"];
    if (needed.some(function (name) { return !fields[name]; })) {
      show(steps().walk_in);
      var form = stage.querySelector("form");
      Object.keys(fields).forEach(function (name) { if (form) restore(form, name, fields[name]); });
      notice(steps().texts.fill_all);
      return;
    }
    var words = fields.full_name.split(/\s+/);
    flow = { walkIn: fields, sex: fields.sex === "F" ? "F" : "M", given: words[words.length - 1], answers: {} };
    question(0);
  }

  // ----- the ticket: a number of this tablet's block, the check-in queued -----
  function nextNumber() {
    var given = load(USED, []);
    var free = (pack.numbers || []).filter(function (number) { return given.indexOf(number) < 0; });
    return free.length ? free[0] : null;
  }

  function finish(answers) {
    var number = nextNumber();
    if (number === null) { showStart(steps().texts.no_numbers); return; }
    var action = { nonce: newNonce(), kind: flow.walkIn ? "walk_in" : "check_in", device_time: Date.now(),
                   offline: true, number: number, digest: flow.digest || "", answers: answers };
    if (flow.walkIn) action.walk_in = flow.walkIn;
    var queue = load(QUEUE, []);
    queue.push(action);
    save(QUEUE, queue);
    save(USED, load(USED, []).concat([number]));
    if (flow.digest) {
      var done = load(DONE, {});
      done[flow.digest] = { number: number, at: new Date().toISOString() };
      save(DONE, done);
    }
    var given = flow.given;
    flow = null;
    redraw = function () {
      show(steps().ticket, { given: given, number: String(number) });
      var code = stage.querySelector(".ticket-qr");  // no QR offline: the donor's own pass opens them
      if (code) code.remove();
    };
    redraw();
    showBanner();
    flush();
  }

  // ----- which step a request asks for, answered here -----
  function answerHere(verb, path, data) {
    var name = path.split("?")[0].replace(/\/$/, "").split("/").pop();
    if (name === "scan") { scanned(data.get("pass_code")); return; }
    if (name === "confirm") { confirmed(); return; }
    if (name === "phone-answers") {
      resume(function () { if (data.get("mine") === "yes") finish(null); else question(0); });
      return;
    }
    if (name === "questionnaire") { answered(data); return; }
    if (name === "walk-in") {
      redraw = null;  // a walk-in's form keeps its language: what was typed stays
      if (verb === "get") { flow = null; show(steps().walk_in); } else { walkedIn(data); }
      return;
    }
    if (name === "find") { showStart(steps().texts.find_offline); return; }
    showStart();  // reset, start: the next donor
  }

  function formDataOf(detail) {
    var config = detail.requestConfig || {};
    if (config.formData instanceof FormData) return config.formData;
    var data = new FormData();
    var values = config.parameters || {};
    Object.keys(values).forEach(function (key) { data.append(key, values[key]); });
    return data;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var detail = event.detail;
    var config = detail.requestConfig || {};
    var data = formDataOf(detail);
    if (/\/scan$/.test(config.path || "") && data.get("pass_code")) lastScanned = String(data.get("pass_code"));
    // The next donor (or one who has no pass): never carried on as the last pass scanned.
    if (/\/(reset|start|find|walk-in)$/.test(config.path || "")) lastScanned = "";
    if (!ready() || detail.target !== stage || (online && !flow)) return;
    event.preventDefault();  // offline, or a donor whose way began offline: the pack answers
    answerHere(config.verb, config.path || "", data);
  });

  // A request that never reached the server, or whose answer took too long: the tablet goes offline
  // and answers that very request from the pack.
  function failed(event) {
    var detail = event.detail;
    if (!ready() || detail.target !== stage) return;
    setOnline(false);
    var config = detail.requestConfig || {};
    answerHere(config.verb, config.path || "", formDataOf(detail));
  }
  document.addEventListener("htmx:sendError", failed);
  document.addEventListener("htmx:timeout", failed);

  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.status === 0 || xhr.status >= 500) return;
    if (!online) setOnline(true);
    flush();
    // A check-in online: the pack learns it at once (another tablet may see the pass next).
    if (event.detail.target === stage && stage.querySelector("[data-step=ticket]")) refreshPack();
  });

  // The language toggle loads a page from the server: offline, the step on screen is drawn again
  // from the pack in the language chosen, with every answer given so far.
  document.addEventListener("submit", function (event) {
    var toggle = event.target;
    var button = event.submitter;
    if (!toggle.matches || !toggle.matches(".lang-toggle") || !button || !ready() || (online && !flow)) return;
    if (!pack.steps[button.value]) return;
    event.preventDefault();
    event.stopPropagation();
    if (flow && flow.step !== undefined) {
      var form = stage.querySelector("form.q-form");
      if (form) {
        new FormData(form).forEach(function (value, name) { if (!SKIPPED[name]) flow.answers[name] = String(value); });
      }
    }
    document.documentElement.lang = button.value;
    toggle.querySelectorAll("button[name=lang]").forEach(function (other) {
      if (other === button) other.setAttribute("aria-current", "true"); else other.removeAttribute("aria-current");
    });
    if (redraw) redraw();
  }, true);

  // ----- SHA-256, for pass digests: the browser's own where the page is secure, else this one -----
  function sha256(text) {
    var bytes = new TextEncoder().encode(text);
    if (window.crypto && window.crypto.subtle) {
      return window.crypto.subtle.digest("SHA-256", bytes).then(hex);
    }
    return Promise.resolve(hex(sha256Bytes(bytes)));
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); })
      .join("");
  }

  var K = [];
  (function () {
    var n = 2;
    var found = 0;
    function frac(x) { return ((x - Math.floor(x)) * 0x100000000) >>> 0; }
    while (found < 64) {
      var prime = true;
      for (var d = 2; d * d <= n; d++) if (n % d === 0) { prime = false; break; }
      if (prime) { K[found++] = frac(Math.pow(n, 1 / 3)); }
      n++;
    }
  })();

  function sha256Bytes(bytes) {
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var length = bytes.length;
    var padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[length] = 0x80;
    var bits = length * 8;
    padded[padded.length - 4] = (bits >>> 24) & 255;
    padded[padded.length - 3] = (bits >>> 16) & 255;
    padded[padded.length - 2] = (bits >>> 8) & 255;
    padded[padded.length - 1] = bits & 255;
    var w = new Array(64);
    function rotr(x, n) { return (x >>> n) | (x << (32 - n)); }
    for (var offset = 0; offset < padded.length; offset += 64) {
      for (var i = 0; i < 16; i++) {
        w[i] = (padded[offset + 4 * i] << 24) | (padded[offset + 4 * i + 1] << 16) |
               (padded[offset + 4 * i + 2] << 8) | padded[offset + 4 * i + 3];
      }
      for (i = 16; i < 64; i++) {
        var s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        var s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (i = 0; i < 64; i++) {
        var t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        var t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h = [(h[0] + a) | 0, (h[1] + b) | 0, (h[2] + c) | 0, (h[3] + d) | 0,
           (h[4] + e) | 0, (h[5] + f) | 0, (h[6] + g) | 0, (h[7] + k) | 0];
    }
    var out = new Uint8Array(32);
    h.forEach(function (word, index) {
      out[index * 4] = (word >>> 24) & 255;
      out[index * 4 + 1] = (word >>> 16) & 255;
      out[index * 4 + 2] = (word >>> 8) & 255;
      out[index * 4 + 3] = word & 255;
    });
    return out.buffer;
  }

  // ----- the service worker keeps the kiosk's shell for a page loaded offline -----
  function keepShell() {
    var worker = stage.getAttribute("data-offline-worker-url");
    if (!worker || !navigator.serviceWorker || !window.isSecureContext) return;
    navigator.serviceWorker.register(worker, { scope: "/kiosk/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      var urls = [window.location.pathname];
      document.querySelectorAll("link[href^='/static/'], script[src^='/static/']").forEach(function (el) {
        urls.push(el.getAttribute("href") || el.getAttribute("src"));
        if (el.getAttribute("data-decoder")) urls.push(el.getAttribute("data-decoder"));
      });
      if (registration.active) registration.active.postMessage({ cache: urls });
    }).catch(function () { /* no worker: offline still works until the page is loaded again */ });
  }

  window.kioskOffline = { ready: ready, online: function () { return online; }, flush: flush, refresh: refreshPack };

  document.addEventListener("DOMContentLoaded", function () {
    stage.querySelectorAll("input[name=nonce]").forEach(function (input) { input.value = newNonce(); });
    if (window.htmx) window.htmx.config.timeout = timeoutMs;  // a request this slow sends the tablet offline
    showBanner();
    keepShell();
    refreshPack().then(flush);
    setInterval(function () { if (online) refreshPack(); }, packSeconds * 1000);
    setInterval(function () { if (!online || load(QUEUE, []).length) flush(); }, retrySeconds * 1000);
  });
})();
