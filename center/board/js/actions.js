// The actions on an alert: each one a form in a dialog that confirms it, then the API's answer
// (the alert as it is now) or its refusal, word for word.

import { post } from "./api.js";
import { h, clear, toast } from "./dom.js";
import { pick, t } from "./i18n.js";

const SILENCE_CHOICES = ["30m", "1h", "4h", "1d", "3d", "7d"];
const DURATION_MS = { m: 60000, h: 3600000, d: 86400000 };

function text(name, { required = false, long = false, value = "" } = {}) {
  const input = long
    ? h("textarea", { name, required, maxlength: 4000 }, value)
    : h("input", { name, required, maxlength: 200, value, autocomplete: "off" });
  return h("label", {}, t(`field.${name}`), input);
}

function choice(name, options, { required = false } = {}) {
  return h("label", {}, t(`field.${name}`),
    h("select", { name, required },
      required ? null : h("option", { value: "" }, "—"),
      options.map(([value, label]) => h("option", { value }, label))));
}

// The fields of each action: what the API's `Action` (or feedback, or silence) takes.
function fieldsOf(action, context) {
  switch (action) {
    case "acknowledge": case "close": case "false_positive":
      return [text("note", { long: true })];
    case "assign":
      return [text("handler", { required: true })];
    case "dispatch":
      return [choice("department", context.departments.map((name) => [name, name]), { required: true }),
        text("handler"), text("note", { long: true })];
    case "resolve":
      return [text("note", { required: true, long: true })];
    case "reply":
      return [text("message", { required: true, long: true })];
    case "comment":
      return [text("text", { required: true, long: true })];
    case "feedback":
      return [choice("verdict", [["true_positive", t("verdict.true_positive")],
        ["false_positive", t("verdict.false_positive")]]),
      choice("satisfaction", [1, 2, 3, 4, 5].map((n) => [String(n), "★".repeat(n)])),
      text("corrected_category"), text("comment", { long: true })];
    case "silence":
      return [choice("duration", SILENCE_CHOICES.map((d) => [d, t(`duration.${d}`)]), { required: true }),
        text("reason", { required: true, long: true })];
    default:
      return [];
  }
}

function bodyOf(action, form, alert, now) {
  const values = Object.fromEntries([...new FormData(form)].filter(([, value]) => value !== ""));
  if (action === "feedback") {
    if (values.satisfaction) values.satisfaction = Number(values.satisfaction);
    return { path: `/v1/alerts/${encodeURIComponent(alert.id)}/feedback`, body: values };
  }
  if (action === "silence") {
    const amount = Number.parseInt(values.duration, 10) * DURATION_MS[values.duration.slice(-1)];
    return { path: "/v1/silences", body: {
      matchers: { rule: alert.rule, key: alert.key, severity: alert.severity }, reason: values.reason,
      ends_at: new Date(now + amount).toISOString() } };
  }
  return { path: `/v1/alerts/${encodeURIComponent(alert.id)}/actions`, body: { action, ...values } };
}

// Opens the dialog of `action` on `alert`; resolves to the API's answer, or null if cancelled.
export function openAction(alert, action, context) {
  const dialog = document.getElementById("action-dialog");
  const form = document.getElementById("action-form");
  const refusal = document.getElementById("action-refusal");
  document.getElementById("action-title").textContent =
    `${t(`action.${action}`)} · ${pick(alert.title) || alert.rule} · ${alert.key}`;
  clear(document.getElementById("action-fields")).append(
    h("p", { class: "muted" }, t(`confirm.${action}`)), ...fieldsOf(action, context));
  refusal.textContent = "";
  return new Promise((resolve) => {
    const cancel = document.getElementById("action-cancel");
    const finish = (answer) => {
      form.removeEventListener("submit", submit);
      cancel.removeEventListener("click", close);
      dialog.removeEventListener("cancel", close);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const close = () => finish(null);
    const submit = async (event) => {
      event.preventDefault();
      const { path, body } = bodyOf(action, form, alert, Date.now());
      const confirm = document.getElementById("action-confirm");
      confirm.disabled = true;
      try {
        const answer = await post(path, body);
        toast(t("done", { action: t(`action.${action}`) }));
        finish(answer);
      } catch (error) {
        refusal.textContent = error.message;
      } finally {
        confirm.disabled = false;
      }
    };
    form.addEventListener("submit", submit);
    cancel.addEventListener("click", close);
    dialog.addEventListener("cancel", close);
    dialog.showModal();
    (form.querySelector("input, select, textarea") ?? document.getElementById("action-confirm")).focus();
  });
}
