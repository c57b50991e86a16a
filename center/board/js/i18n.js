// One message catalogue per language (i18n/<language>.json); zh-CN first, English beside it.

const LANGUAGES = ["zh-CN", "en"];
const catalogues = {};
let language = "zh-CN";

export async function loadCatalogues() {
  await Promise.all(LANGUAGES.map(async (name) => {
    const answer = await fetch(`/board/i18n/${name}.json`);
    catalogues[name] = await answer.json();
  }));
  const kept = localStorage.getItem("ewe.language");
  language = LANGUAGES.includes(kept) ? kept : "zh-CN";
}

export function currentLanguage() {
  return language;
}

export function setLanguage(name) {
  language = LANGUAGES.includes(name) ? name : "zh-CN";
  localStorage.setItem("ewe.language", language);
  document.documentElement.lang = language;
  translatePage();
}

// The message `key` with {names} filled in; a key missing from the catalogue shows itself.
export function t(key, values = {}) {
  const text = catalogues[language]?.[key] ?? catalogues["zh-CN"]?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

// Text in the language of the page from a {zh, en} pair of a rule (title, summary).
export function pick(texts) {
  if (!texts) return "";
  const short = language === "zh-CN" ? "zh" : "en";
  return texts[short] ?? texts.zh ?? texts.en ?? Object.values(texts)[0] ?? "";
}

export function translatePage(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-title]")) {
    element.title = t(element.dataset.i18nTitle);
  }
}
