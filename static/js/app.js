// Shared by every page. No inline scripts anywhere: the CSP forbids them.
(function () {
  "use strict";

  // htmx requests carry the CSRF token from the page's meta tag (Flask-WTF reads X-CSRFToken).
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) {
      event.detail.headers["X-CSRFToken"] = meta.getAttribute("content");
    }
  });

  // The server records a write once per nonce, so a double tap or a network retry answers the
  // same. Forms come with a nonce from the server (a tap before this script runs still sends
  // one); any nonce input left empty gets a fresh one here.
  function newNonce() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function fillNonces(root) {
    (root || document).querySelectorAll("input[name=nonce]:not([value]), input[name=nonce][value='']").forEach(function (input) {
      input.value = newNonce();
    });
  }
  window.kioskNonce = newNonce;
  document.addEventListener("DOMContentLoaded", function () { fillNonces(document); });
  document.addEventListener("htmx:load", function (event) { fillNonces(event.target); });

  // Buttons that ask for confirmation declare it in data-confirm (no inline handlers).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);
})();
