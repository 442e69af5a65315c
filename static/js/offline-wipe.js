// On "this tablet is not set up" (never paired, unpaired or revoked): nothing an offline kiosk kept
// stays on the tablet: its pack and queue (localStorage), the shell its service worker cached, the
// worker itself (issue 20, item 6).
(function () {
  "use strict";
  try {
    Object.keys(window.localStorage).forEach(function (key) {
      if (key.indexOf("kiosk-offline") === 0) window.localStorage.removeItem(key);
    });
  } catch (ignored) { /* storage off */ }
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
})();
