// Times in the city's time zone (from /v1/me), never the browser's nor UTC.

import { currentLanguage, t } from "./i18n.js";

let zone = "Asia/Shanghai";
const formats = new Map();

export function setTimeZone(name) {
  zone = name;
  formats.clear();
}

function format(options) {
  const key = `${currentLanguage()}|${JSON.stringify(options)}`;
  if (!formats.has(key)) {
    formats.set(key, new Intl.DateTimeFormat(currentLanguage(), { timeZone: zone, hour12: false, ...options }));
  }
  return formats.get(key);
}

export function dateTime(iso) {
  if (!iso) return "";
  return format({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit" }).format(new Date(iso));
}

export function clock(iso) {
  return iso ? format({ hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(iso)) : "";
}

export function span(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${m}:${ss}`;
}

export function age(iso, now = Date.now()) {
  const minutes = Math.floor((now - Date.parse(iso)) / 60000);
  if (minutes < 1) return t("age.now");
  if (minutes < 60) return t("age.minutes", { n: minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return t("age.hours", { n: hours });
  return t("age.days", { n: Math.floor(hours / 24) });
}

// How near a deadline is: "late" once passed, "amber" in the last quarter of its window.
export function urgency(deadlineIso, openedIso, now = Date.now()) {
  const deadline = Date.parse(deadlineIso);
  const left = deadline - now;
  if (left <= 0) return "late";
  const window = deadline - Date.parse(openedIso);
  return window > 0 && left <= window / 4 ? "amber" : "";
}
