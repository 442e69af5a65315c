// Reading a QR code with the device's camera, for the kiosk and the nurse station: the camera
// (getUserMedia) plays into a <video>, and the browser's own BarcodeDetector, or else jsQR, looks
// at each frame until it finds a code or the page stops it. What to show around the video stays
// with each page (kiosk.js, nurse.js). jsQR (250 KB) is fetched only when a camera opens on a
// browser without BarcodeDetector: a kiosk with a USB scanner never loads it.
window.qrCamera = (function () {
  "use strict";

  var script = document.currentScript;
  var decoderUrl = script ? script.getAttribute("data-decoder") : "";
  var decoderLoading = null;

  // The browser gives the camera. Browsers give it only to secure pages: HTTPS, or this machine.
  function supported() {
    return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  // The browser's own QR reader where it has one, else the vendored jsQR, loaded once.
  function decoder() {
    if (window.BarcodeDetector && window.BarcodeDetector.getSupportedFormats) {
      return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") < 0) return loadJsQR();
        var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return function (video) {
          return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : ""; });
        };
      }).catch(loadJsQR);
    }
    return loadJsQR();
  }

  function loadJsQR() {
    if (!decoderLoading) {
      decoderLoading = new Promise(function (resolve, reject) {
        if (typeof window.jsQR === "function") { resolve(); return; }
        var tag = document.createElement("script");
        tag.src = decoderUrl;
        tag.onload = resolve;
        tag.onerror = function () { decoderLoading = null; reject(new Error("decoder")); };
        document.head.appendChild(tag);
      });
    }
    return decoderLoading.then(function () { return null; });  // null: read frames with jsQR
  }

  // Opens the camera into `video` and reads frames until a code is found: then the camera is
  // stopped and `options.onCode(text)` called. `options.onOpen()` runs once the camera gives a
  // picture, `options.onError()` if it cannot be opened. Returns { stop }: stop() closes the
  // camera at any time, a request still waiting for the donor's or nurse's permission included.
  function scan(video, options) {
    var canvas = options.canvas || document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });
    var stream = null;
    var frame = 0;
    var stopped = false;

    function stop() {
      stopped = true;
      if (frame) cancelAnimationFrame(frame);
      frame = 0;
      if (stream) {
        stream.getTracks().forEach(function (track) { track.stop(); });
        stream = null;
      }
    }

    var detect = null;  // the browser's reader (a promise of the text), or null for jsQR

    function found(text) {
      if (stopped || !text) return false;
      stop();
      options.onCode(text);
      return true;
    }

    function readFrame() {
      frame = 0;
      if (stopped) return;
      if (video.readyState !== video.HAVE_ENOUGH_DATA || video.videoWidth === 0) {
        frame = requestAnimationFrame(readFrame);
        return;
      }
      if (detect) {
        detect(video).then(function (text) {
          if (!found(text) && !stopped) frame = requestAnimationFrame(readFrame);
        }, function () { if (!stopped) frame = requestAnimationFrame(readFrame); });
        return;
      }
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = context.getImageData(0, 0, canvas.width, canvas.height);
      var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      if (code && found(code.data)) return;
      frame = requestAnimationFrame(readFrame);
    }

    decoder()
      .then(function (chosen) {
        detect = chosen;
        if (stopped) return null;
        return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      })
      .then(function (opened) {
        if (!opened) return;
        if (stopped) {  // closed while the browser asked for permission
          opened.getTracks().forEach(function (track) { track.stop(); });
          return;
        }
        stream = opened;
        video.srcObject = opened;
        if (options.onOpen) options.onOpen();
        return video.play().then(function () {
          if (!stopped) frame = requestAnimationFrame(readFrame);
        });
      })
      .catch(function () {
        stop();
        if (options.onError) options.onError();
      });

    return { stop: stop };
  }

  return { supported: supported, scan: scan };
})();
