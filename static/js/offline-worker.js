// The kiosk's service worker (issue 20), served at /kiosk/offline-worker.js so that its scope,
// /kiosk/, covers the kiosk's page. It keeps the kiosk's shell: the page and the static files it
// names (their URLs name their content, so a cached one is never stale). A page loaded while the
// server cannot be reached comes from here; everything else (the steps, the pack, the uploads) goes
// to the network, and static/js/offline-kiosk.js answers from its pack when that fails.
"use strict";

var SHELL = "kiosk-shell-v1";
var NAVIGATION_TIMEOUT_MS = 4000;
var wiped = false;  // refused as a kiosk: nothing is cached any more, and the worker goes

function wipe() {
  wiped = true;
  return caches.delete(SHELL).then(function () { return self.registration.unregister(); });
}

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

// The page names what it needs ({cache: [urls]}); "wipe" deletes it all (a revoked tablet).
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data === "wipe") { event.waitUntil(wipe()); return; }
  if (!data.cache || wiped) return;
  event.waitUntil(caches.open(SHELL).then(function (cache) {
    return Promise.all(data.cache.map(function (url) {
      return fetch(url, { credentials: "same-origin" }).then(function (response) {
        if (response.ok) return cache.put(url, response);
      }).catch(function () {});
    }));
  }));
});

function withTimeout(promise, ms) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error("timeout")); }, ms);
    promise.then(function (value) { clearTimeout(timer); resolve(value); },
                 function (error) { clearTimeout(timer); reject(error); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (wiped) return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.open(SHELL).then(function (cache) {
      return cache.match(request).then(function (hit) {
        return hit || fetch(request).then(function (response) {
          if (response.ok && url.search) cache.put(request, response.clone());
          return response;
        });
      });
    }));
    return;
  }
  if (request.mode === "navigate" && /^\/kiosk\/[^/]+\/?$/.test(url.pathname)) {
    event.respondWith(withTimeout(fetch(request), NAVIGATION_TIMEOUT_MS).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(SHELL).then(function (cache) { cache.put(url.pathname, copy); });
      } else if (response.status === 403) {
        event.waitUntil(wipe());  // no longer a paired kiosk: nothing stays
      }
      return response;
    }).catch(function () {
      return caches.open(SHELL).then(function (cache) { return cache.match(url.pathname); }).then(function (hit) {
        return hit || Response.error();
      });
    }));
  }
});
