// The board's start: sign-in, the views, the live feed, the language, the clock.

import { openAction } from "./actions.js";
import { forgetToken, get, keepToken, request, token, whenSignedOut } from "./api.js";
import { Areas } from "./areas.js";
import { Board } from "./board.js";
import { Detail } from "./detail.js";
import { h, clear, toast } from "./dom.js";
import { LiveFeed } from "./feed.js";
import { currentLanguage, loadCatalogues, pick, setLanguage, t, translatePage } from "./i18n.js";
import { Rules } from "./rules.js";
import { current, link } from "./route.js";
import { setTimeZone } from "./time.js";

const VIEWS = { board: Board, alert: Detail, areas: Areas, rules: Rules };
const SESSION_CHECK_MS = 30000;

const context = {
  me: null,
  departments: [],
  duty: Promise.resolve(),      // the departments, once the duty list is read
  lastBoard: "#/board",
  boardLink() { return this.lastBoard; },
  // An action on an alert, if the signed-in role may take it.
  async act(alert, action) {
    if (!alert || !this.me.permissions.includes(action === "silence" ? "silence" : "act")) return null;
    return openAction(alert, action, this);
  },
};

let view = null;
let feed = null;
let sessionTimer = null;
let audio = null;

function $(id) {
  return document.getElementById(id);
}

function signIn(reason = "") {
  feed?.stop();
  clearInterval(sessionTimer);
  forgetToken();
  context.me = null;
  view = null;
  document.querySelector("header.top").hidden = true;
  $("cue").hidden = true;
  clear($("view"));
  $("sign-in").hidden = false;
  $("sign-in-reason").textContent = reason;
  $("token").value = "";
  $("token").focus();
}

async function enter() {
  $("sign-in").hidden = true;
  document.querySelector("header.top").hidden = false;
  setTimeZone(context.me.timezone);
  $("who").textContent = `${context.me.name} · ${t(`role.${context.me.role}`)}`;
  context.duty = get("/v1/duty").then((duty) => { context.departments = duty.departments; });
  feed = new LiveFeed(onFeed, (live) => $("live").classList.toggle("on", live));
  feed.start();
  sessionTimer = setInterval(() => { get("/v1/me").catch(() => {}); }, SESSION_CHECK_MS);
  await route();
}

async function route() {
  if (!context.me) return;
  const { view: name, id, params } = current();
  const View = VIEWS[name] ?? Board;
  if (View === Board) context.lastBoard = location.hash || "#/board";
  for (const anchor of document.querySelectorAll("nav a")) {
    anchor.classList.toggle("current", anchor.dataset.view === name);
  }
  view = new View($("view"), context);
  try {
    await view.show(View === Detail ? id : params);
  } catch (error) {
    if (error.status !== 401) {
      clear($("view")).append(h("p", { class: "refusal" }, error.message));
    }
  }
}

function onFeed(kind, message) {
  if (kind === "alert" && message.alert.severity === "red"
      && (message.change === "fired" || message.change === "escalated")) {
    cue(message.alert);
  }
  view?.onFeed(kind, message);
}

// A new red alert: a banner that blinks, and a tone when sound is on.
function cue(alert) {
  const banner = $("cue");
  const place = ["community", "grid", "building"].map((level) => alert.location?.[level]).filter(Boolean).join(" · ");
  banner.textContent = `${t("cue.red")}：${pick(alert.title) || alert.rule} · ${place}`;
  banner.dataset.id = alert.id;
  banner.hidden = false;
  banner.style.animation = "none";
  void banner.offsetWidth;        // restart the blinking
  banner.style.animation = "";
  if ($("sound").checked && audio) {
    for (const [at, pitch] of [[0, 880], [0.25, 660], [0.5, 880]]) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = pitch;
      gain.gain.value = 0.15;
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + at);
      tone.stop(audio.currentTime + at + 0.18);
    }
  }
}

async function start() {
  const signedIn = token() ? get("/v1/me").then((me) => me, (error) => error) : null;
  await loadCatalogues();
  setLanguage(currentLanguage());
  $("language").value = currentLanguage();
  $("language").addEventListener("change", (event) => {
    setLanguage(event.target.value);
    if (context.me) {
      $("who").textContent = `${context.me.name} · ${t(`role.${context.me.role}`)}`;
      route();
    }
  });
  $("sound").checked = localStorage.getItem("ewe.sound") === "1";
  $("sound").addEventListener("change", (event) => {
    localStorage.setItem("ewe.sound", event.target.checked ? "1" : "0");
    if (event.target.checked) audio ??= new AudioContext();
  });
  $("cue").addEventListener("click", () => {
    $("cue").hidden = true;
    location.hash = link("alert", { id: $("cue").dataset.id });
  });
  $("sign-out").addEventListener("click", () => signIn(""));
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const typed = $("token").value.trim();
    try {
      context.me = await request("GET", "/v1/me", { as: typed });
    } catch (error) {
      $("sign-in-reason").textContent = error.message;
      return;
    }
    keepToken(typed);
    await enter();
  });
  whenSignedOut((reason) => signIn(reason));
  window.addEventListener("hashchange", route);
  setInterval(() => view?.tick(), 1000);
  translatePage();
  if (!token()) {
    signIn("");
    return;
  }
  const me = await signedIn;
  if (me instanceof Error) {
    if (me.status === 401) signIn(me.message);   // said before the page could show it
    else toast(me.message, true);
    return;
  }
  context.me = me;
  await enter();
}

start();
