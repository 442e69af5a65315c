// The hall display: polls its data URL with the drive and revision it shows. The server answers
// 204 while nothing changed and the tally's snapshot as JSON when something did. When the
// server cannot be reached the last figures stay on screen with a discreet mark, polling
// goes on with a backoff, and the first answer clears the mark: no one has to touch it.
(function () {
  "use strict";

  var MAX_DELAY_MS = 2000; // the backoff's cap: back on screen within ~2 s of the Wi-Fi returning
  var REQUEST_TIMEOUT_MS = 2500; // a dropped Wi-Fi often hangs rather than fails: give up and retry
  var CHANGE_CLASS = "changed";

  var board = document.getElementById("board");
  var clock = document.getElementById("clock");
  var lostMark = document.getElementById("connection-lost");
  var lang = document.documentElement.lang || "vi";
  var formats = {};

  function format(value, decimals) {
    var key = String(decimals || 0);
    if (!formats[key]) {
      formats[key] = new Intl.NumberFormat(lang, {minimumFractionDigits: decimals || 0, maximumFractionDigits: decimals || 0});
    }
    return formats[key].format(value);
  }

  // The clock is the display's own (no server round trip), in the drive's time zone: a hall laptop
  // left on UTC must not show 18:38 beside a date and arrival times of 01:38 the next day.
  var clockFormat = null;
  try {
    var zone = clock && clock.getAttribute("data-time-zone");
    if (zone) {
      clockFormat = new Intl.DateTimeFormat("en-GB", {hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone});
    }
  } catch (error) {
    clockFormat = null; // an unknown zone: the computer's own time, as before
  }
  var showInvited = null; // set below when the page shows arrival windows
  function tick() {
    var now = new Date();
    var text = clockFormat ? clockFormat.format(now)
      : ("0" + now.getHours()).slice(-2) + ":" + ("0" + now.getMinutes()).slice(-2);
    if (clock.textContent !== text) {
      clock.textContent = text;
      clock.setAttribute("datetime", text);
      if (showInvited) {
        showInvited(text);
      }
    }
  }
  if (clock) {
    tick();
    window.setInterval(tick, 1000);
  }

  var waiting = document.getElementById("waiting");
  if (!board) {
    if (waiting) {
      // No drive yet: ask now and then, and show the drive as soon as one exists.
      window.setInterval(function () {
        fetch(waiting.getAttribute("data-url"), {cache: "no-store"}).then(function (response) {
          if (response.status === 200) {
            window.location.reload();
          }
        }).catch(function () {});
      }, 5000);
    }
    return;
  }

  var url = board.getAttribute("data-url");
  var interval = parseInt(board.getAttribute("data-interval"), 10) || 500;
  var driveId = board.getAttribute("data-drive");
  var revision = board.getAttribute("data-rev");
  var siteCodes = board.getAttribute("data-sites");
  var departmentRows = parseInt(board.getAttribute("data-department-rows"), 10) || 6;
  var noDepartment = board.getAttribute("data-no-department");
  var failures = 0;

  // The units invited now (kiosk.arrivals): the windows come with the figures, and which are open is
  // this clock's answer each minute ("HH:MM" strings compare as times), so a window opening needs no poll.
  var invitedBox = document.getElementById("invited");
  var arrivals = invitedBox ? JSON.parse(invitedBox.getAttribute("data-arrivals") || "[]") : [];
  showInvited = invitedBox && function (now) {
    var items = [];
    arrivals.forEach(function (unit) {
      var before = unit.end === "" || now < unit.end;
      var open = unit.start <= now && before;
      if (open || (unit.called && before)) {
        var item = document.createElement("li");
        item.className = "invited-unit" + (open ? "" : " invited-early");
        var name = document.createElement("span");
        name.className = "invited-name";
        name.textContent = unit.name;
        var when = document.createElement("span");
        when.className = "invited-window";
        when.textContent = unit.start + (unit.end ? "–" + unit.end : "") +
          (open ? "" : " · " + invitedBox.getAttribute("data-called"));
        item.append(name, " ", when);
        items.push(item);
      }
    });
    invitedBox.hidden = !arrivals.length;
    document.getElementById("invited-list").replaceChildren.apply(document.getElementById("invited-list"), items);
  };

  function flash(element, up) {
    // Restart the animation even if the last one is still running.
    element.classList.remove(CHANGE_CLASS, "went-up", "went-down");
    void element.offsetWidth;
    element.classList.add(CHANGE_CLASS, up ? "went-up" : "went-down");
  }

  function setNumber(element, value) {
    var decimals = parseInt(element.getAttribute("data-decimals") || "0", 10);
    var text = format(value, decimals);
    if (element.textContent === text) {
      return;
    }
    var before = parseFloat(element.getAttribute("data-value") || "NaN");
    element.textContent = text;
    element.setAttribute("data-value", String(value));
    flash(element, !(value < before));
  }

  function updateDepartments(list, departments) {
    var items = [];
    var top = departments.length ? departments[0].bags : 0;
    departments.slice(0, departmentRows).forEach(function (department) {
      var item = document.createElement("li");
      item.className = "department";
      var name = document.createElement("span");
      name.className = "department-name";
      name.textContent = department.name || noDepartment;
      var bar = document.createElement("progress");
      bar.className = "department-bar";
      bar.max = top || 1;
      bar.value = department.bags;
      bar.setAttribute("aria-hidden", "true");
      var bags = document.createElement("span");
      bags.className = "department-bags";
      bags.textContent = format(department.bags, 0);
      item.append(name, bar, bags);
      items.push(item);
    });
    if (!items.length) {
      return; // keep the "no donations yet" line
    }
    var oldNames = Array.prototype.map.call(list.children, function (li) { return li.textContent; }).join("|");
    list.replaceChildren.apply(list, items);
    var newNames = Array.prototype.map.call(list.children, function (li) { return li.textContent; }).join("|");
    if (oldNames !== newNames) {
      flash(list, true);
    }
  }

  function apply(data) {
    var codes = data.by_site.map(function (site) { return site.code; }).join(",");
    if (String(data.drive_id) !== driveId || codes !== siteCodes) {
      window.location.reload(); // another drive opened, or the sites changed: render afresh
      return;
    }
    revision = String(data.revision);
    document.querySelectorAll("[data-total]").forEach(function (element) {
      var name = element.getAttribute("data-total");
      if (name === "percent") {
        var bar = document.getElementById("target-bar");
        var shown = data[bar.getAttribute("data-of")];
        var text = data.target_bags ? Math.round(100 * shown / data.target_bags) + "%" : "";
        if (element.textContent !== text) {
          element.textContent = text;
          flash(element, true);
        }
        bar.max = data.target_bags || 1;
        bar.value = Math.min(shown, data.target_bags || 1);
      } else if (name in data) {
        setNumber(element, data[name]);
      }
    });
    data.by_site.forEach(function (site) {
      var card = document.querySelector('[data-site="' + site.code + '"]');
      if (!card) {
        return;
      }
      card.querySelectorAll("[data-field]").forEach(function (element) {
        setNumber(element, site[element.getAttribute("data-field")]);
      });
    });
    if (showInvited && data.arrivals) {
      arrivals = data.arrivals;
      showInvited(clock.textContent);
    }
    var list = document.getElementById("departments");
    if (list) {
      updateDepartments(list, data.by_department);
    }
  }

  // The figures on screen are those of the last answer: the mark says since when (issue 20).
  var heardAt = new Date();
  function connected(isConnected) {
    failures = isConnected ? 0 : failures + 1;
    if (isConnected) heardAt = new Date();
    var since = lostMark.getAttribute("data-since");
    if (!isConnected && since) {
      var time = clockFormat ? clockFormat.format(heardAt)
                             : heardAt.toLocaleTimeString(lang, {hour: "2-digit", minute: "2-digit", hour12: false});
      lostMark.textContent = since.replace("{t}", time);
    }
    lostMark.hidden = isConnected;
    document.body.classList.toggle("offline", !isConnected);
  }

  function nextDelay() {
    return failures ? Math.min(MAX_DELAY_MS, interval * Math.pow(2, failures - 1)) : interval;
  }

  function poll() {
    var controller = new AbortController();
    var timer = window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    var query = "?drive=" + encodeURIComponent(driveId) + "&rev=" + encodeURIComponent(revision);
    fetch(url + query, {cache: "no-store", credentials: "same-origin", signal: controller.signal,
                        headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (response.status === 204) {
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        connected(true);
        if (data) {
          apply(data);
        }
      })
      .catch(function () {
        connected(false);
      })
      .then(function () {
        window.clearTimeout(timer);
        window.setTimeout(poll, nextDelay());
      });
  }

  window.setTimeout(poll, interval);
})();
