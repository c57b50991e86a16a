// The view and its filter live in the address (#/board?severity=red&district=…), so a link
// reproduces what its sender saw.

export function current() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const [, view = "board", id] = path.split("/");
  return { view: view || "board", id: id ? decodeURIComponent(id) : null,
    params: new URLSearchParams(query) };
}

export function link(view, { id, params } = {}) {
  const query = params ? new URLSearchParams([...params].filter(([, value]) => value !== "")) : null;
  const text = query && [...query].length ? `?${query}` : "";
  return `#/${view}${id ? `/${encodeURIComponent(id)}` : ""}${text}`;
}

export function go(view, options) {
  location.hash = link(view, options);
}
