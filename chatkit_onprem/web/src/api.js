// Transport: the ChatKit wire protocol over the app's fetch (options.api.fetch, else window.fetch).
// JSON requests, SSE streams parsed incrementally, and both upload strategies.

/** An error with what the component needs to put it in words: HTTP status, server code, Retry-After. */
export class ChatKitError extends Error {
  constructor(message, { status = 0, code = "", retryAfter = null, kind = "http" } = {}) {
    super(message);
    this.name = "ChatKitError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.kind = kind; // "http" | "network" | "stream" | "client"
  }
}

export class Api {
  /** `config` is options.api: {url, fetch?, uploadStrategy?}. */
  constructor(config) {
    if (!config || typeof config.url !== "string" || !config.url) {
      throw new ChatKitError("options.api.url is required", { kind: "client" });
    }
    // Relative URLs resolve against the host page, like any fetch from it.
    this.url = new URL(config.url, document.baseURI).href;
    const custom = config.fetch;
    this.fetch = typeof custom === "function" ? (input, init) => custom(input, init) : (input, init) => fetch(input, init);
    this.uploadStrategy = config.uploadStrategy || { type: "two_phase" };
  }

  async #post(body, signal) {
    let response;
    try {
      response = await this.fetch(this.url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ChatKitError(String((err && err.message) || err), { kind: "network" });
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  /** A non-streaming request: resolves to the JSON body. */
  async call(type, params, signal) {
    const response = await this.#post({ type, params }, signal);
    return response.json();
  }

  /**
   * A streaming request: calls `onEvent` for each SSE event in order. Resolves when the stream
   * ends; rejects with AbortError when `signal` aborts it.
   */
  async stream(type, params, onEvent, signal) {
    const response = await this.#post({ type, params }, signal);
    const contentType = response.headers.get("content-type") || "";
    if (!contentType.startsWith("text/event-stream")) {
      // A JSON answer to a streaming request (the library does this for some no-op requests).
      const body = await response.json().catch(() => null);
      if (body && body.type) onEvent(body);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (err && err.name === "AbortError") throw err;
        if (signal && signal.aborted) throw new DOMException("aborted", "AbortError");
        throw new ChatKitError(String((err && err.message) || err), { kind: "network" });
      }
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let cut;
      while ((cut = nextBoundary(buffer)) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(buffer.startsWith("\r\n", cut) ? cut + 4 : cut + 2);
        const data = dataOf(block);
        if (data) onEvent(JSON.parse(data));
      }
    }
    const data = dataOf(buffer);
    if (data) onEvent(JSON.parse(data));
  }

  /** Upload a File with the configured strategy; resolves to the server's Attachment. */
  async upload(file, signal) {
    const form = () => {
      const body = new FormData();
      body.append("file", file, file.name);
      return body;
    };
    if (this.uploadStrategy.type === "direct") {
      const target = new URL(this.uploadStrategy.uploadUrl, document.baseURI).href;
      return this.#send(target, { method: "POST", body: form(), signal });
    }
    const created = await this.call(
      "attachments.create",
      { name: file.name, size: file.size, mime_type: file.type || "application/octet-stream" },
      signal,
    );
    const descriptor = created.upload_descriptor;
    if (!descriptor) return created;
    const uploaded = await this.#send(descriptor.url, {
      method: descriptor.method || "POST",
      headers: { ...(descriptor.headers || {}) },
      body: form(),
      signal,
    });
    const attachment = uploaded && uploaded.id ? uploaded : created;
    return { ...attachment, upload_descriptor: null };
  }

  async #send(url, init) {
    let response;
    try {
      response = await this.fetch(url, init);
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ChatKitError(String((err && err.message) || err), { kind: "network" });
    }
    if (!response.ok) throw await errorFrom(response);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }
}

function nextBoundary(buffer) {
  const lf = buffer.indexOf("\n\n");
  const crlf = buffer.indexOf("\r\n\r\n");
  if (lf < 0) return crlf;
  if (crlf < 0) return lf;
  return Math.min(lf, crlf);
}

function dataOf(block) {
  let data = "";
  for (const raw of block.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.startsWith("data:")) data += (data ? "\n" : "") + line.slice(line[5] === " " ? 6 : 5);
  }
  return data;
}

async function errorFrom(response) {
  let code = "";
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || "";
      message = body.error.message || message;
    }
  } catch {
    // not JSON: keep the status text
  }
  const retry = Number.parseInt(response.headers.get("retry-after") || "", 10);
  return new ChatKitError(message, {
    status: response.status,
    code,
    retryAfter: Number.isFinite(retry) ? retry : null,
  });
}

/** Drop anything that looks like an internal id or request id from a message meant for people. */
export function withoutIds(text) {
  return String(text || "")
    .replace(/\b(request[_ ]id|id)[:=]\s*\S+/gi, "")
    .replace(/\b[a-z]{2,12}_[0-9a-f]{12,}\b/gi, "")
    .replace(/\b[0-9a-f]{24,}\b/gi, "")
    .replace(/\s{2,}/g, " ")
    .replace(/\s+([.,;:!?])/g, "$1")
    .trim();
}

/** An error in words for the user, in the component's language (`t` from i18n.js). */
export function describeError(err, t) {
  if (!(err instanceof ChatKitError)) return t("errServer");
  if (err.kind === "network") return t("errNetwork");
  if (err.kind === "stream") return withoutIds(err.message) || t("errStream");
  const { status, code } = err;
  if (code === "quota_exceeded") return t("errQuota");
  if (status === 401) return t("errAuth");
  if (status === 403) return t("errForbidden");
  if (status === 404) return t("errNotFound");
  if (status === 413) return t("errTooLarge");
  if (status === 415) return t("errType");
  if (status === 429) return err.retryAfter ? t("errRate", { seconds: err.retryAfter }) : t("errRateNoTime");
  if (status === 503) return t("errUnavailable");
  if (status >= 500) return t("errServer");
  if (status >= 400) return t("errBadRequest");
  return t("errServer");
}
