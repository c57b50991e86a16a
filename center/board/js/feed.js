// The center's live feed (server-sent events over fetch, so the token goes in a header): each
// message handed on as it comes; after a break it reconnects with the last id it saw, and the
// center sends what was missed, or `reset` when it no longer has it.

import { token } from "./api.js";

export class LiveFeed {
  constructor(onMessage, onState) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.lastId = null;
    this.stopped = false;
    this.controller = null;
  }

  start() {
    this.stopped = false;
    this.loop();
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  async loop() {
    let pause = 500;
    while (!this.stopped) {
      try {
        await this.follow();
        pause = 500;
      } catch (error) {
        if (this.stopped) return;
        if (error.status === 401) {   // signed out: the board's own requests say why
          this.onState(false);
          return;
        }
      }
      this.onState(false);
      await new Promise((resolve) => { setTimeout(resolve, pause); });
      pause = Math.min(pause * 2, 10000);
    }
  }

  async follow() {
    this.controller = new AbortController();
    const headers = { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" };
    if (this.lastId) headers["Last-Event-ID"] = this.lastId;
    const answer = await fetch("/v1/stream", { headers, signal: this.controller.signal, cache: "no-store" });
    if (!answer.ok) throw Object.assign(new Error(answer.statusText), { status: answer.status });
    this.onState(true);
    const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        this.dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  dispatch(block) {
    let kind = "message";
    let id = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") kind = value;
      else if (field === "id") id = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return;
    if (id) this.lastId = id;
    this.onMessage(kind, kind === "reset" ? null : JSON.parse(data.join("\n")));
  }
}
