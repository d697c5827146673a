/* The client app's own script: every page works without it. It signs a Mini App in (Telegram's
   init data exchanged once for the session cookie), applies Telegram's theme, shows times in the
   phone's zone, counts down, hides revealed card details, and keeps a paying form from being
   sent twice. No eval, no inline handlers (the CSP allows neither). */
(function () {
  "use strict";
  var THEME_KEY = "paywarden.tgTheme";

  function fragmentParams() {
    var hash = window.location.hash ? window.location.hash.slice(1) : "";
    try { return new URLSearchParams(hash); } catch (e) { return new URLSearchParams(); }
  }
  function telegram() { return window.Telegram && window.Telegram.WebApp; }

  // Telegram's theme: from the launch fragment (kept for the next pages) or its script.
  function applyTheme() {
    var theme = null;
    var raw = fragmentParams().get("tgWebAppThemeParams");
    try {
      if (raw) { theme = JSON.parse(raw); sessionStorage.setItem(THEME_KEY, raw); }
      else if (telegram() && telegram().themeParams && telegram().themeParams.bg_color) { theme = telegram().themeParams; }
      else { var kept = sessionStorage.getItem(THEME_KEY); if (kept) { theme = JSON.parse(kept); } }
    } catch (e) { theme = null; }
    if (!theme || typeof theme !== "object") { return; }
    var names = { bg_color: "--tg-bg", text_color: "--tg-text", hint_color: "--tg-hint",
      link_color: "--tg-link", button_color: "--tg-button", button_text_color: "--tg-button-text",
      secondary_bg_color: "--tg-surface" };
    var style = document.documentElement.style;
    Object.keys(names).forEach(function (key) {
      if (typeof theme[key] === "string" && /^#[0-9a-fA-F]{3,8}$/.test(theme[key])) { style.setProperty(names[key], theme[key]); }
    });
    if (typeof theme.bg_color === "string" && /^#[0-9a-fA-F]{6}$/.test(theme.bg_color)) {
      var n = parseInt(theme.bg_color.slice(1), 16);
      var light = (0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255)) > 140;
      document.documentElement.setAttribute("data-theme", light ? "light" : "dark");
    }
  }

  // The entry page: exchange Telegram's init data once for the cookie, then go on.
  function signIn() {
    var entry = document.getElementById("entry");
    if (!entry) { return; }
    var initData = fragmentParams().get("tgWebAppData") || (telegram() && telegram().initData) || "";
    var next = entry.getAttribute("data-next");
    if (!initData) {
      if (entry.getAttribute("data-signed-in") === "true") { window.location.replace(next); }
      return;
    }
    var status = document.getElementById("entry-status");
    status.textContent = entry.getAttribute("data-signing-in");
    fetch(entry.getAttribute("data-session-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "X-Telegram-Init-Data": initData, "Accept": "application/json" }
    }).then(function (response) {
      if (response.ok) { window.location.replace(next); return; }
      return response.json().then(function (body) {
        status.textContent = body.code === "INIT_DATA_EXPIRED" ? entry.getAttribute("data-expired") : entry.getAttribute("data-failed");
      });
    }).catch(function () { status.textContent = entry.getAttribute("data-offline"); });
  }

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) { return; }
      el.title = el.getAttribute("datetime");
      el.textContent = d.toLocaleString(document.documentElement.lang || undefined, {
        month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit"
      });
    });
  }

  // <span data-countdown="2026-12-06T10:00:00Z" data-expired-text="Expired">: m:ss left.
  function countdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var end = new Date(el.getAttribute("data-countdown")).getTime();
      if (isNaN(end)) { return; }
      var left = Math.max(0, Math.round((end - Date.now()) / 1000));
      el.textContent = left > 0 ? Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") : el.getAttribute("data-expired-text");
      if (left === 0) { el.classList.add("expired"); }
    });
  }

  // <section data-hide-after="60" data-hide-to="/app/card">: revealed details go away.
  function hideLater(root) {
    root.querySelectorAll("[data-hide-after]").forEach(function (el) {
      var seconds = parseInt(el.getAttribute("data-hide-after"), 10) || 60;
      window.setTimeout(function () {
        el.textContent = "";
        window.location.replace(el.getAttribute("data-hide-to"));
      }, seconds * 1000);
    });
  }

  // A form marked .once sends once: its buttons are disabled as it goes.
  function sendOnce(root) {
    root.querySelectorAll("form.once").forEach(function (form) {
      form.addEventListener("submit", function () {
        window.setTimeout(function () {
          form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
        }, 0);
      });
    });
  }

  function copyButtons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (btn) {
      btn.hidden = false;
      btn.addEventListener("click", function () {
        var source = document.getElementById(btn.getAttribute("data-copy"));
        if (!source || !navigator.clipboard) { return; }
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          btn.textContent = document.body.getAttribute("data-copied");
        });
      });
    });
  }

  applyTheme();
  document.addEventListener("DOMContentLoaded", function () {
    if (telegram()) { try { telegram().ready(); } catch (e) { /* outside Telegram */ } }
    signIn();
    localTimes(document);
    sendOnce(document);
    copyButtons(document);
    hideLater(document);
    countdowns();
    window.setInterval(countdowns, 1000);
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    localTimes(e.target); sendOnce(e.target); copyButtons(e.target); countdowns();
  });
})();
