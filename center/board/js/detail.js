// One alert: what happened, where, the evidence, the incident, who handles it, the timeline,
// and the actions the signed-in role may take in its state.

import { get } from "./api.js";
import { h, clear } from "./dom.js";
import { pick, t } from "./i18n.js";
import { readingsChart } from "./chart.js";
import { link } from "./route.js";
import { dateTime, span, urgency } from "./time.js";

const LEVELS = ["district", "street", "community", "grid", "building"];

function shown(name, value) {
  if (name === "severity") return t(`severity.${value}`);
  if (name === "step") return t(`step.${value}`);
  if (name === "verdict") return t(`verdict.${value}`);
  if ((name === "at" || name === "deadline") && typeof value === "string") return dateTime(value);
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function described(data) {
  return Object.entries(data ?? {}).filter(([, value]) => value !== null && value !== "")
    .map(([name, value]) => `${t(`field.${name}`)}: ${shown(name, value)}`).join("；");
}

export class Detail {
  constructor(root, context) {
    this.root = root;
    this.context = context;
  }

  async show(alertId) {
    this.alertId = alertId;
    this.alert = await get(`/v1/alerts/${encodeURIComponent(alertId)}`);
    this.render();
  }

  render() {
    const alert = this.alert;
    const readings = alert.evidence.filter((item) => item.value !== undefined && item.value !== null);
    const reports = alert.evidence.filter((item) => item.text !== undefined && item.text !== null);
    const location = alert.location ?? {};
    clear(this.root).append(
      h("p", {}, h("a", { href: this.context.boardLink() }, `← ${t("nav.board")}`)),
      h("h1", {}, h("span", { class: `sev ${alert.severity}` }, t(`severity.${alert.severity}`)), " ",
        pick(alert.title) || alert.rule),
      h("div", { class: "actions", id: "actions" }, alert.actions.map((action) =>
        h("button", { type: "button", class: action === alert.actions[0] ? "primary" : "",
          dataset: { action }, onclick: () => this.act(action) }, t(`action.${action}`)))),
      h("div", { class: "detail" },
        h("div", {},
          h("section", { class: "panel" },
            h("p", {}, pick(alert.summary)),
            h("dl", {},
              h("dt", {}, t("detail.state")), h("dd", { id: "state" }, t(`state.${alert.state}`),
                alert.condition === "resolved" ? ` · ${t("condition.resolved")}` : ` · ${t("condition.firing")}`),
              h("dt", {}, t("detail.rule")), h("dd", {}, alert.rule),
              h("dt", {}, t("detail.key")), h("dd", {}, alert.key),
              h("dt", {}, t("detail.place")), h("dd", {}, LEVELS.map((level) => location[level]).filter(Boolean).join(" › ")),
              h("dt", {}, t("detail.started")), h("dd", {}, dateTime(alert.starts_at)),
              h("dt", {}, t("detail.opened")), h("dd", {}, dateTime(alert.opened_at)),
              alert.occurrences > 1 ? [h("dt", {}, t("detail.occurrences")), h("dd", {}, alert.occurrences)] : null,
              alert.silenced ? [h("dt", {}, t("detail.silenced")), h("dd", {}, t("yes"))] : null)),
          readings.length ? h("section", { class: "panel" }, h("h2", {}, t("detail.readings")), readingsChart(readings),
            h("p", { class: "muted" }, [...new Set(readings.map((item) => `${item.device_id ?? ""} ${item.type ?? ""}`))].join("，"))) : null,
          reports.length ? h("section", { class: "panel" }, h("h2", {}, t("detail.reports")),
            reports.map((item) => h("div", { class: "report" },
              h("div", { class: "muted" }, dateTime(typeof item.ts === "number" ? new Date(item.ts).toISOString() : item.ts),
                item.category ? ` · ${item.category}` : ""),
              h("div", { class: "report-text" }, item.text),
              item.reporter ? h("div", { class: "muted" }, `${t("detail.reporter")}: ${Object.values(item.reporter).join(" ")}`) : null))) : null,
          h("section", { class: "panel" }, h("h2", {}, t("detail.timeline")),
            h("ol", { class: "timeline", id: "timeline" }, alert.timeline.map((event) => h("li", { dataset: { kind: event.kind } },
              h("span", { class: "when" }, dateTime(event.at)),
              h("b", {}, t(`event.${event.kind}`)), ` · ${event.actor}`,
              described(event.data) ? h("div", { class: event.kind === "comment" ? "" : "muted" }, described(event.data)) : null))))),
        h("div", {},
          h("section", { class: "panel" }, h("h2", {}, t("detail.handling")),
            h("dl", {},
              h("dt", {}, t("detail.department")), h("dd", { id: "department" }, alert.department ?? "—"),
              h("dt", {}, t("detail.handler")), h("dd", {}, alert.handler ?? "—"),
              h("dt", {}, t("detail.escalate_to")), h("dd", {}, alert.escalate_to ?? "—"))),
          h("section", { class: "panel" }, h("h2", {}, t("detail.sla")),
            h("dl", {}, alert.sla.map((step) => [h("dt", {}, t(`step.${step.step}`)),
              h("dd", { class: step.met ? "" : `sla ${urgency(step.deadline, alert.opened_at)}` },
                dateTime(step.deadline), " ",
                step.met ? `✓ ${t("sla.met")}` : step.escalated ? t("sla.escalated")
                  : Date.parse(step.deadline) > Date.now() ? span(Date.parse(step.deadline) - Date.now()) : t("sla.late", { by: span(Date.now() - Date.parse(step.deadline)) }))]))),
          alert.incident ? h("section", { class: "panel" }, h("h2", {}, t("detail.incident")),
            h("p", {}, t("incident.row", { count: alert.incident.alert_count }), " · ", alert.incident.category ?? "", " · ", alert.incident.building ?? ""),
            h("a", { href: link("board", { params: new URLSearchParams({ incident: alert.incident.id }) }) }, alert.incident.id)) : null,
          h("section", { class: "panel" }, h("h2", {}, t("detail.feedback")),
            h("dl", {},
              h("dt", {}, t("field.verdict")), h("dd", {}, alert.feedback.verdict ? t(`verdict.${alert.feedback.verdict}`) : "—"),
              h("dt", {}, t("field.satisfaction")), h("dd", {}, alert.feedback.satisfaction ? "★".repeat(alert.feedback.satisfaction) : "—"),
              h("dt", {}, t("field.corrected_category")), h("dd", {}, alert.feedback.corrected_category ?? "—"))))));
  }

  async act(action) {
    const answer = await this.context.act(this.alert, action);
    if (answer && answer.timeline) {
      this.alert = answer;
      this.render();
    } else if (answer) {
      await this.show(this.alertId);
    }
  }

  onFeed(kind, message) {
    if (message?.alert?.id === this.alertId && !document.getElementById("action-dialog").open) {
      this.show(this.alertId);
    }
  }

  tick() {}
}
