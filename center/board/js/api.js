// The center's API: the token of the signed-in person (kept for the browser session), every
// request with it, every refusal as the API words it.

const COOKIE = "ewe_token";

export class Refused extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onSignedOut = () => {};

export function whenSignedOut(handler) {
  onSignedOut = handler;
}

export function token() {
  const found = document.cookie.split("; ").find((part) => part.startsWith(`${COOKIE}=`));
  return found ? decodeURIComponent(found.slice(COOKIE.length + 1)) : null;
}

export function keepToken(value) {
  // A session cookie: it lasts until the browser closes and is shared by its tabs. Only this
  // page reads it; the API takes the token from the Authorization header alone.
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${COOKIE}=${encodeURIComponent(value)}; path=/; SameSite=Strict${secure}`;
}

export function forgetToken() {
  document.cookie = `${COOKIE}=; path=/; Max-Age=0; SameSite=Strict`;
}

async function refusalOf(answer) {
  let message = `${answer.status} ${answer.statusText}`;
  let code;
  try {
    const body = await answer.json();
    if (typeof body.error === "string") {
      message = body.error;
      code = body.code;
    } else if (Array.isArray(body.detail)) {   // the framework's own validation answer
      message = body.detail.map((item) => `${item.loc.slice(1).join(".")}: ${item.msg}`).join("\n");
    }
  } catch { /* not JSON: keep the status line */ }
  return new Refused(answer.status, message, code);
}

export async function request(method, path, { params, body, as } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: `Bearer ${as ?? token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!answer.ok) {
    const refusal = await refusalOf(answer);
    if (answer.status === 401 && as === undefined) onSignedOut(refusal.message);
    throw refusal;
  }
  return answer.status === 204 ? null : answer.json();
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, body) => request("POST", path, { body });
