// The live board: the alerts of the filter, red first and newest first within a colour, an
// incident as one row that opens to its alerts, counters, SLA countdowns, changes as they come.

import { get } from "./api.js";
import { h, clear } from "./dom.js";
import { pick, t } from "./i18n.js";
import { go, link } from "./route.js";
import { age, span, urgency } from "./time.js";

export const SEVERITIES = ["red", "orange", "yellow", "blue"];
export const STATES = ["open", "acknowledged", "dispatched", "resolved", "replied", "closed",
  "false_positive"];
const ENDED = new Set(["closed", "false_positive"]);
const RANK = { red: 4, orange: 3, yellow: 2, blue: 1 };
const AREA = ["district", "street", "community", "grid", "building"];
const WITHIN = { "1h": 3600000, "6h": 21600000, "24h": 86400000, "7d": 604800000 };
const PAGE = 200;

// The filter of the address as the API takes it (`ended=1` shows ended chains too).
export function apiFilter(params, now = Date.now()) {
  const filter = {};
  for (const name of ["severity", "state", "category", "rule", "department", "incident", ...AREA]) {
    if (params.get(name)) filter[name] = params.get(name);
  }
  if (params.get("ended") !== "1") filter.open = "true";
  const within = WITHIN[params.get("within")];
  if (within) filter.since = new Date(now - within).toISOString();
  return filter;
}

function matches(alert, filter) {
  for (const [name, value] of Object.entries(filter)) {
    if (name === "open") { if (ENDED.has(alert.state)) return false; continue; }
    if (name === "since") { if (Date.parse(alert.starts_at) < Date.parse(value)) return false; continue; }
    const actual = name === "incident" ? alert.incident_id
      : AREA.includes(name) ? alert.location?.[name] : alert[name];
    if (actual !== value) return false;
  }
  return true;
}

function before(a, b) {   // the board's order: colour, then the ledger's opening, newest first
  return RANK[b.severity] - RANK[a.severity] || Date.parse(b.opened_at) - Date.parse(a.opened_at)
    || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

function place(location = {}) {
  return ["community", "grid", "building"].map((level) => location[level]).filter(Boolean).join(" · ");
}

export class Board {
  constructor(root, context) {
    this.root = root;
    this.context = context;
    this.alerts = new Map();
    this.cursor = null;
    this.open = new Set();     // incidents shown opened
    this.fresh = new Set();    // rows that came or changed since the last drawing
    this.focusedId = null;
  }

  async show(params) {
    this.params = params;
    this.filter = apiFilter(params);
    const countsFilter = { ...this.filter };
    delete countsFilter.severity;
    delete countsFilter.state;
    this.countsFilter = countsFilter;
    const [page] = await Promise.all([
      get("/v1/alerts", { ...this.filter, order: "severity", limit: PAGE }), this.loadCounts(),
      this.context.duty]);
    clear(this.root).append(this.filters(), this.countersBox = h("div", { class: "counters" }),
      this.table = h("table", { class: "alerts" }), this.footer = h("div", { class: "more" }));
    this.table.addEventListener("keydown", (event) => this.key(event));
    this.alerts = new Map(page.items.map((alert) => [alert.id, alert]));
    this.cursor = page.next_cursor;
    this.render();
  }

  filters() {
    const params = this.params;
    const select = (name, values, label = (value) => value) => h("label", {}, t(`filter.${name}`),
      h("select", { name, onchange: (event) => this.refilter(name, event.target.value) },
        h("option", { value: "" }, t("filter.any")),
        values.map((value) => h("option", { value, selected: params.get(name) === value }, label(value)))));
    const typed = (name) => h("label", {}, t(`filter.${name}`),
      h("input", { name, value: params.get(name) ?? "", size: 14,
        onchange: (event) => this.refilter(name, event.target.value.trim()) }));
    const chips = [...AREA, "incident"].filter((level) => params.get(level)).map((level) =>
      h("span", { class: "chip" }, `${t(`area.${level}`)}: ${params.get(level)} `,
        h("button", { type: "button", "aria-label": t("filter.remove"),
          onclick: () => this.refilter(level, "") }, "×")));
    return h("div", { class: "filters" },
      select("severity", SEVERITIES, (value) => t(`severity.${value}`)),
      select("state", STATES, (value) => t(`state.${value}`)),
      typed("category"), typed("rule"),
      select("department", this.context.departments),
      select("within", Object.keys(WITHIN), (value) => t(`within.${value}`)),
      h("label", {}, h("input", { type: "checkbox", checked: params.get("ended") === "1",
        onchange: (event) => this.refilter("ended", event.target.checked ? "1" : "") }), t("filter.ended")),
      chips);
  }

  refilter(name, value) {
    const params = new URLSearchParams(this.params);
    if (value) params.set(name, value); else params.delete(name);
    go("board", { params });
  }

  render() {
    this.renderCounters();
    const head = h("tr", {}, ["severity", "alert", "place", "state", "sla", "age", "department"]
      .map((name) => h("th", {}, t(`column.${name}`))));
    const body = h("tbody");
    for (const row of this.rows()) body.append(row);
    clear(this.table).append(h("thead", {}, head), body);
    if (!this.alerts.size) body.append(h("tr", {}, h("td", { colspan: 7, class: "empty" }, t("board.empty"))));
    this.renderFooter();
    this.restoreFocus();
    this.tick();
  }

  renderFooter() {
    clear(this.footer);
    if (this.cursor) {
      this.footer.append(h("button", { type: "button", onclick: () => this.more() },
        t("board.more", { shown: this.alerts.size, total: this.selected })));
    }
  }

  // The counters (the filter but its colour and state, so each counter is a choice) and the
  // number of alerts the whole filter selects.
  async loadCounts() {
    const [counts, selected] = await Promise.all([get("/v1/alerts/counts", this.countsFilter),
      this.filter.severity || this.filter.state ? get("/v1/alerts/counts", this.filter) : null]);
    this.counts = counts;
    this.selected = (selected ?? counts).total;
  }

  renderCounters() {
    const counter = (dimension, value, n, extra = "") => h("button", {
      type: "button", class: `counter ${extra} ${this.params.get(dimension) === value ? "active" : ""}`,
      dataset: { counter: `${dimension}.${value}` },
      onclick: () => this.refilter(dimension, this.params.get(dimension) === value ? "" : value) },
    h("span", {}, t(`${dimension}.${value}`)), h("b", {}, n));
    const states = STATES.filter((state) => this.params.get("ended") === "1" || !ENDED.has(state));
    clear(this.countersBox).append(
      ...SEVERITIES.map((severity) => counter("severity", severity, this.counts.severity[severity] ?? 0, `sev-${severity}`)),
      ...states.map((state) => counter("state", state, this.counts.state[state] ?? 0)));
  }

  // The rows in order: an incident with two or more of the listed alerts is one row, at the
  // place of its first; opened, its alerts follow it.
  rows() {
    const sorted = [...this.alerts.values()].sort(before);
    const members = new Map();
    for (const alert of sorted) {
      if (alert.incident_id) members.set(alert.incident_id, [...(members.get(alert.incident_id) ?? []), alert]);
    }
    const rows = [];
    const shown = new Set();
    for (const alert of sorted) {
      const group = alert.incident_id ? members.get(alert.incident_id) : null;
      if (!group || group.length < 2) { rows.push(this.alertRow(alert)); continue; }
      if (shown.has(alert.incident_id)) continue;
      shown.add(alert.incident_id);
      rows.push(this.incidentRow(alert.incident_id, group));
      if (this.open.has(alert.incident_id)) rows.push(...group.map((member) => this.alertRow(member, true)));
    }
    return rows;
  }

  alertRow(alert, member = false) {
    return h("tr", { class: `row ${member ? "member" : ""} ${ENDED.has(alert.state) ? "ended" : ""}`,
      tabindex: 0, dataset: { id: alert.id, severity: alert.severity },
      onclick: () => go("alert", { id: alert.id }),
      onfocus: () => { this.focusedId = alert.id; } },
    h("td", { class: `sev-${alert.severity}` }, h("span", { class: `sev ${alert.severity}` }, t(`severity.${alert.severity}`))),
    h("td", {}, h("a", { href: link("alert", { id: alert.id }), tabindex: -1 }, pick(alert.title) || alert.rule),
      h("div", { class: "muted" }, pick(alert.summary))),
    h("td", {}, place(alert.location)),
    h("td", {}, t(`state.${alert.state}`), alert.condition === "resolved" ? h("div", { class: "muted" }, t("condition.resolved")) : null),
    this.slaCell(alert),
    h("td", { class: "age", dataset: { since: alert.starts_at } }, age(alert.starts_at)),
    h("td", {}, alert.department ?? "", alert.handler ? h("div", { class: "muted" }, alert.handler) : null));
  }

  // The countdown to the step due next (of the alert, or the earliest of an incident's).
  slaCell(alert) {
    const due = alert?.next_due;
    return h("td", due ? { class: "sla", dataset: { deadline: due.at, opened: alert.opened_at, step: due.step } } : {});
  }

  incidentRow(incidentId, group) {
    const first = group[0];
    const opened = this.open.has(incidentId);
    const toggle = () => {
      if (opened) this.open.delete(incidentId); else this.open.add(incidentId);
      this.focusedId = incidentId;
      this.render();
    };
    return h("tr", { class: "row incident", tabindex: 0, "aria-expanded": opened,
      dataset: { incident: incidentId, id: incidentId, severity: first.severity }, onclick: toggle,
      onfocus: () => { this.focusedId = incidentId; } },
    h("td", { class: `sev-${first.severity}` }, h("span", { class: `sev ${first.severity}` }, t(`severity.${first.severity}`))),
    h("td", {}, `${opened ? "▾" : "▸"} `, t("incident.row", { count: group.length }),
      h("div", { class: "muted" }, pick(first.title) || first.rule)),
    h("td", {}, place(first.location)),
    h("td", {}, [...new Set(group.map((alert) => t(`state.${alert.state}`)))].join(" / ")),
    this.slaCell(group.filter((alert) => alert.next_due)
      .sort((a, b) => Date.parse(a.next_due.at) - Date.parse(b.next_due.at))[0]),
    h("td", { class: "age", dataset: { since: group[group.length - 1].starts_at } },
      age(group[group.length - 1].starts_at)),
    h("td", {}, first.department ?? ""));
  }

  async more() {
    const page = await get("/v1/alerts", { ...this.filter, order: "severity", limit: PAGE, cursor: this.cursor });
    for (const alert of page.items) this.alerts.set(alert.id, alert);
    this.cursor = page.next_cursor;
    this.render();
  }

  // A change from the live feed: the row comes, goes or changes; the counters follow.
  onFeed(kind, message) {
    if (kind === "reset") { this.show(this.params); return; }
    const alert = message?.alert;
    if (!alert || (kind !== "alert" && kind !== "event")) return;
    const listed = this.alerts.has(alert.id);
    const wanted = matches(alert, this.filter);
    const last = [...this.alerts.values()].sort(before).at(-1);
    if (wanted && (listed || !this.cursor || !last || before(alert, last) < 0)) {
      this.alerts.set(alert.id, alert);
      this.fresh.add(alert.id);
    } else if (listed && !wanted) {
      this.alerts.delete(alert.id);
    }
    // A burst of changes is drawn once; the counters follow a moment later.
    if (!this.drawing) {
      this.drawing = setTimeout(() => {
        this.drawing = null;
        this.render();
        this.fresh.clear();
      }, 30);
    }
    clearTimeout(this.countsTimer);
    this.countsTimer = setTimeout(async () => {
      await this.loadCounts();
      this.renderCounters();
      this.renderFooter();
    }, 300);
  }

  restoreFocus() {
    for (const id of this.fresh) {
      this.table.querySelector(`tr[data-id="${CSS.escape(id)}"]`)?.classList.add("fresh");
    }
    if (!this.focusedId || !this.root.contains(document.activeElement) && document.activeElement !== document.body) return;
    this.table.querySelector(`tr[data-id="${CSS.escape(this.focusedId)}"]`)?.focus({ preventScroll: true });
  }

  // Keyboard: ↑/↓ (or k/j) move between rows, Enter opens, a acknowledges.
  key(event) {
    const row = event.target.closest("tr.row");
    if (!row) return;
    if (event.key === "ArrowDown" || event.key === "j") {
      row.nextElementSibling?.focus();
    } else if (event.key === "ArrowUp" || event.key === "k") {
      row.previousElementSibling?.focus();
    } else if (event.key === "Enter") {
      row.click();
    } else if (event.key === "a" && row.dataset.incident === undefined) {
      this.context.act(this.alerts.get(row.dataset.id), "acknowledge");
    } else {
      return;
    }
    event.preventDefault();
  }

  // Every second: the countdowns and ages move on.
  tick(now = Date.now()) {
    for (const cell of this.root.querySelectorAll("td.sla[data-deadline]")) {
      const left = Date.parse(cell.dataset.deadline) - now;
      const level = urgency(cell.dataset.deadline, cell.dataset.opened, now);
      cell.className = `sla ${level}`;
      cell.textContent = `${t(`step.${cell.dataset.step}`)} ${left > 0 ? span(left) : t("sla.late", { by: span(-left) })}`;
    }
    for (const cell of this.root.querySelectorAll("td.age[data-since]")) {
      cell.textContent = age(cell.dataset.since, now);
    }
  }
}
