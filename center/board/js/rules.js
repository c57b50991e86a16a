// For rule authors: the pack in force, each rule's alerts and the precision its feedback gives,
// the rules quarantined at run time and the pushes refused, each with its reason.

import { get } from "./api.js";
import { h, clear } from "./dom.js";
import { pick, t } from "./i18n.js";
import { link } from "./route.js";
import { dateTime } from "./time.js";

export class Rules {
  constructor(root, context) {
    this.root = root;
    this.context = context;
  }

  async show() {
    try {
      this.status = await get("/v1/rules");
    } catch (error) {
      if (error.status !== 404) throw error;
      clear(this.root).append(h("h1", {}, t("rules.title")), h("p", { class: "refusal" }, error.message));
      return;
    }
    this.render();
  }

  render() {
    const status = this.status;
    const held = new Map(status.quarantined.map((item) => [item.id, item]));
    const percent = (value) => (value === null ? "—" : `${Math.round(value * 100)}%`);
    clear(this.root).append(...[
      h("h1", {}, t("rules.title")),
      h("p", { class: "muted" }, t("rules.version", { version: status.version, rules: status.rules.length, models: status.models.length })),
      status.quarantined.length ? h("section", { class: "panel quarantined", id: "quarantined" },
        h("h2", {}, t("rules.quarantined")),
        h("ul", {}, status.quarantined.map((item) => h("li", {}, h("b", {}, item.id), ` — ${item.reason}`,
          h("span", { class: "muted" }, ` (${t("rules.partitions")} ${item.partitions.join(", ")}${item.at ? ` · ${dateTime(item.at)}` : ""})`))))) : null,
      status.refused.length ? h("section", { class: "panel quarantined", id: "refused" },
        h("h2", {}, t("rules.refused")),
        h("ul", {}, status.refused.map((item) => h("li", {}, h("span", { class: "muted" }, dateTime(item.at)), " ",
          h("pre", {}, item.reason))))) : null,
      h("table", { class: "rules" },
        h("thead", {}, h("tr", {}, ["id", "title", "kind", "severities", "category", "file", "alerts", "firing", "open", "verdicts", "precision"]
          .map((name) => h("th", { class: ["alerts", "firing", "open", "precision"].includes(name) ? "num" : "" }, t(`rules.column.${name}`))))),
        h("tbody", {}, status.rules.map((rule) => h("tr", { dataset: { rule: rule.id }, class: held.has(rule.id) ? "quarantined" : "" },
          h("td", {}, h("a", { href: link("board", { params: new URLSearchParams({ rule: rule.id, ended: "1" }) }) }, rule.id)),
          h("td", {}, pick(rule.title)),
          h("td", {}, t(`kind.${rule.kind}`)),
          h("td", {}, rule.severities.map((severity) => h("span", { class: `dot ${severity}`, title: t(`severity.${severity}`) }))),
          h("td", {}, rule.category ?? ""),
          h("td", { class: "muted" }, `${rule.file.split("/").pop()}:${rule.line}`),
          h("td", { class: "num" }, rule.record.alerts),
          h("td", { class: "num" }, rule.record.firing),
          h("td", { class: "num" }, rule.record.open),
          h("td", {}, `${rule.record.true_positive} / ${rule.record.false_positive}`),
          h("td", { class: "num" }, percent(rule.record.precision)))))),
      status.models.length ? h("section", { class: "panel" }, h("h2", {}, t("rules.models")),
        h("ul", {}, status.models.map((model) => h("li", { class: held.has(model.id) ? "quarantined" : "" },
          h("b", {}, model.id), ` · ${model.detector} · ${model.file.split("/").pop()}:${model.line}`)))) : null,
      status.retired.length ? h("p", { class: "muted" }, t("rules.retired", { rules: status.retired.join(", ") })) : null,
    ].filter(Boolean));
  }

  onFeed() {}

  tick() {}
}
