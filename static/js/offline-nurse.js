// The nurse desk through a network drop (issue 20, item 4): a decision, a donation or a correction
// sent while the server cannot be reached is kept in this browser with its nonce, shown as "chưa
// gửi", and sent again (on a timer, on page load, whenever the server answers) until the server has
// answered it; the nonce makes a resend record nothing twice. The page also says when it last heard
// from the server. The desk does not work offline: it only never drops what a nurse typed.
(function () {
  "use strict";

  var box = document.getElementById("nurse-connection");
  if (!box || !window.localStorage || !window.fetch) return;
  var KEY = "nurse-pending";
  var FORMS = "#screening-form, #donation-form, .correct-form, .void-form";
  var retryMs = (parseInt(box.getAttribute("data-retry-seconds"), 10) || 15) * 1000;
  var timeoutMs = parseInt(box.getAttribute("data-timeout-ms"), 10) || 8000;
  var heardAt = Date.now();
  var lost = false;
  var sending = false;

  function load() {
    try { return JSON.parse(window.localStorage.getItem(KEY) || "[]"); } catch (ignored) { return []; }
  }
  function save(list) { window.localStorage.setItem(KEY, JSON.stringify(list)); }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit", second: "2-digit",
                                                      hour12: false });
  }

  function heard(ok) {
    if (ok) heardAt = Date.now();
    lost = !ok;
    render();
  }

  function render() {
    var line = box.querySelector("[data-heard]");
    if (line) {
      line.textContent = (box.getAttribute(lost ? "data-lost" : "data-ok") || "").replace("{t}", clock(heardAt));
      line.classList.toggle("nurse-heard-lost", lost);
    }
    var list = box.querySelector("[data-pending-list]");
    if (!list) return;
    list.textContent = "";
    load().forEach(function (item) {
      var entry = document.createElement("li");
      entry.setAttribute("data-pending", item.state);
      var words = box.getAttribute(item.state === "refused" ? "data-refused" : "data-not-sent");
      entry.textContent = item.label + " — " + words + " (" + clock(item.saved_at) + ")";
      list.appendChild(entry);
    });
    list.hidden = !list.children.length;
  }

  function csrfToken() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  }

  // The form's fields as typed; the CSRF token is the page's own at the time of sending (a kept
  // one may have gone stale), and the nonce the one the form had: a resend is the same action.
  function post(item) {
    var body = new URLSearchParams();
    item.fields.forEach(function (pair) { body.append(pair[0], pair[0] === "csrf_token" ? csrfToken() : pair[1]); });
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs) : 0;
    return fetch(item.url, { method: "POST", body: body, credentials: "same-origin", redirect: "follow",
                             signal: controller ? controller.signal : undefined })
      .then(function (response) { clearTimeout(timer); return response; },
            function (error) { clearTimeout(timer); throw error; });
  }

  function keep(item) {
    var list = load().filter(function (kept) { return kept.nonce !== item.nonce; });
    list.push(item);
    save(list);
    heard(false);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !form.matches || !form.matches(FORMS) || form.hasAttribute("data-sent-natively")) return;
    var nonce = form.querySelector("input[name=nonce]");
    if (!nonce) return;
    event.preventDefault();
    var fields = [];
    new FormData(form, event.submitter || undefined).forEach(function (value, name) { fields.push([name, String(value)]); });
    var button = event.submitter || form.querySelector("[type=submit]");
    var item = { url: form.action, fields: fields, nonce: nonce.value, saved_at: Date.now(), state: "pending",
                 label: (button && button.textContent.trim()) || document.title, page: window.location.pathname };
    post(item).then(function (response) {
      heard(true);
      if (response.redirected) { window.location.assign(response.url); return; }
      // Answered with the form again (a field to correct): the browser posts it itself, same nonce,
      // and shows that answer as it always has.
      form.setAttribute("data-sent-natively", "");
      if (event.submitter) form.requestSubmit(event.submitter); else form.requestSubmit();
    }, function () { keep(item); });
  }, true);

  // Sent again in order until the server has answered each; an answer that refuses it (a conflict,
  // a field no longer valid) is kept and shown, never dropped.
  function flush() {
    var pending = load().filter(function (item) { return item.state === "pending"; });
    if (sending || !pending.length) return Promise.resolve(false);
    sending = true;
    var reload = false;
    function next(index) {
      if (index >= pending.length) return Promise.resolve();
      var item = pending[index];
      return post(item).then(function (response) {
        heard(true);
        if (response.status === 401) return;  // signed out: kept until the nurse signs in again
        var list = load();
        if (response.redirected || response.ok) {
          list = list.filter(function (kept) { return kept.nonce !== item.nonce; });
          if (item.page === window.location.pathname) reload = true;
        } else {
          list.forEach(function (kept) { if (kept.nonce === item.nonce) kept.state = "refused"; });
        }
        save(list);
        return next(index + 1);
      });
    }
    return next(0).catch(function () { heard(false); }).then(function () {
      sending = false;
      render();
      if (reload) window.location.reload();  // the page shows what was recorded
      return reload;
    });
  }

  function ping() {
    if (load().some(function (item) { return item.state === "pending"; })) { flush(); return; }
    fetch(box.getAttribute("data-ping-url"), { cache: "no-store", credentials: "same-origin" })
      .then(function (response) { heard(response.status < 500 || response.status === 503); },
            function () { heard(false); });
  }

  // The queue's own poll says it too.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status > 0) { heard(true); flush(); } else { heard(false); }
  });

  render();
  flush();
  setInterval(ping, retryMs);
})();
