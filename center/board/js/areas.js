// 网格化管理: the area tree district › street › community › grid with the open alerts at each
// level and the worst colour among them; beside it, where the alerts are (lat/lon, no tiles).

import { get } from "./api.js";
import { h, clear } from "./dom.js";
import { t } from "./i18n.js";
import { apiFilter } from "./board.js";
import { go } from "./route.js";

const WIDTH = 640;
const HEIGHT = 480;
const PAD = 16;

export class Areas {
  constructor(root, context) {
    this.root = root;
    this.context = context;
    this.folded = new Set();
  }

  async show(params) {
    this.params = params;
    this.data = await get("/v1/areas", apiFilter(params));
    this.render();
  }

  render() {
    clear(this.root).append(h("h1", {}, t("areas.title")),
      h("div", { class: "areas" },
        h("section", { class: "panel tree", id: "area-tree" },
          this.data.tree.length ? h("ul", {}, this.data.tree.map((node) => this.node(node, {})))
            : h("p", { class: "empty" }, t("board.empty"))),
        h("section", { class: "panel" }, h("h2", {}, t("areas.map")), this.scatter())));
  }

  node(node, path) {
    const here = { ...path, [node.level]: node.name ?? "" };
    const key = JSON.stringify(here);
    const folded = this.folded.has(key) || (!this.folded.has(`open:${key}`) && node.level !== "district");
    const filter = () => {
      const params = new URLSearchParams();
      for (const [level, name] of Object.entries(here)) if (name) params.set(level, name);
      go("board", { params });
    };
    const toggle = () => {
      if (folded) { this.folded.delete(key); this.folded.add(`open:${key}`); } else { this.folded.add(key); this.folded.delete(`open:${key}`); }
      this.render();
    };
    return h("li", { dataset: { level: node.level, name: node.name ?? "" } },
      h("div", {},
        node.children.length && node.level !== "grid"
          ? h("button", { type: "button", class: "toggle", "aria-expanded": !folded, onclick: toggle }, folded ? "▸" : "▾")
          : h("span", { class: "toggle" }),
        h("span", { class: `dot ${node.worst}`, title: t(`severity.${node.worst}`) }),
        h("a", { href: "#", onclick: (event) => { event.preventDefault(); filter(); } },
          `${t(`area.${node.level}`)} ${node.name ?? t("area.unnamed")}`),
        h("span", { class: "count" }, node.count)),
      !folded && node.level !== "grid" ? h("ul", {}, node.children.map((child) => this.node(child, here))) : null);
  }

  scatter() {
    const points = this.data.points;
    if (!points.length) return h("p", { class: "muted" }, t("areas.no_positions"));
    const lats = points.map((point) => point.lat);
    const lons = points.map((point) => point.lon);
    const [south, north] = [Math.min(...lats), Math.max(...lats)];
    const [west, east] = [Math.min(...lons), Math.max(...lons)];
    const x = (lon) => PAD + (east === west ? 0.5 : (lon - west) / (east - west)) * (WIDTH - 2 * PAD);
    const y = (lat) => PAD + (north === south ? 0.5 : (north - lat) / (north - south)) * (HEIGHT - 2 * PAD);
    const order = { blue: 0, yellow: 1, orange: 2, red: 3 };   // red drawn last, on top
    return h("svg:svg", { class: "scatter", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": t("areas.map") },
      [...points].sort((a, b) => order[a.severity] - order[b.severity]).map((point) =>
        h("svg:circle", { class: point.severity, cx: x(point.lon).toFixed(1), cy: y(point.lat).toFixed(1), r: point.severity === "red" ? 6 : 4,
          onclick: () => go("alert", { id: point.id }) },
        h("svg:title", {}, `${t(`severity.${point.severity}`)} · ${[point.community, point.grid].filter(Boolean).join(" · ")}`))));
  }

  onFeed(kind, message) {
    if (message?.alert || kind === "reset") {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.show(this.params), 500);
    }
  }

  tick() {}
}
