// Reading a QR code with the device's camera, for the kiosk and the nurse station: the camera
// (getUserMedia) plays into a <video>, and jsQR looks at each frame until it finds a code or
// the page stops it. What to show around the video stays with each page (kiosk.js, nurse.js).
window.qrCamera = (function () {
  "use strict";

  // The browser gives the camera (and the decoder is loaded). Browsers give the camera only to
  // secure pages: HTTPS, or this machine itself.
  function supported() {
    return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && typeof window.jsQR === "function");
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

    function readFrame() {
      frame = 0;
      if (stopped) return;
      if (video.readyState === video.HAVE_ENOUGH_DATA && video.videoWidth > 0) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        var image = context.getImageData(0, 0, canvas.width, canvas.height);
        var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
        if (code && code.data) {
          stop();
          options.onCode(code.data);
          return;
        }
      }
      frame = requestAnimationFrame(readFrame);
    }

    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (opened) {
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
