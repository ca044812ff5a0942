// The built-in web client: speaks the ChatKit wire protocol to this server only.
// No CDN, no telemetry, no third-party code. DOM is built with textContent only.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { threadId: null, thread: null, items: new Map(), order: [], files: [], abort: null };

// ---- identity and transport ------------------------------------------------
function identity() {
  return {
    user: localStorage.getItem("ck.user") || "",
    tenant: localStorage.getItem("ck.tenant") || "",
    token: sessionStorage.getItem("ck.token") || "",
  };
}

function headers(extra) {
  const id = identity();
  const h = Object.assign({ "Content-Type": "application/json" }, extra || {});
  if (id.user) h["X-Dev-User"] = id.user;
  if (id.tenant) h["X-Dev-Tenant"] = id.tenant;
  if (id.token) h["Authorization"] = "Bearer " + id.token;
  return h;
}

async function call(type, params) {
  const response = await fetch("/chatkit", { method: "POST", headers: headers(), body: JSON.stringify({ type, params }) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
  return body;
}

async function stream(type, params) {
  state.abort = new AbortController();
  setBusy(true);
  try {
    const response = await fetch("/chatkit", {
      method: "POST", headers: headers(), body: JSON.stringify({ type, params }), signal: state.abort.signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || response.statusText);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of block.split("\n")) {
          if (line.startsWith("data: ")) onEvent(JSON.parse(line.slice(6)));
        }
      }
    }
  } catch (err) {
    if (err.name !== "AbortError") notice(err.message);
  } finally {
    state.abort = null;
    setBusy(false);
    $("progress").textContent = "";
    refreshThreads();
  }
}

// ---- events ----------------------------------------------------------------
function onEvent(event) {
  switch (event.type) {
    case "thread.created":
    case "thread.updated":
      state.threadId = event.thread.id;
      state.thread = event.thread;
      renderHeader();
      break;
    case "thread.item.added":
    case "thread.item.done":
    case "thread.item.replaced":
      putItem(event.item);
      break;
    case "thread.item.removed":
      state.items.delete(event.item_id);
      state.order = state.order.filter((id) => id !== event.item_id);
      renderItems();
      break;
    case "thread.item.updated":
      applyUpdate(event.item_id, event.update);
      break;
    case "progress_update":
      $("progress").textContent = event.text;
      break;
    case "notice":
      notice(event.message);
      break;
    case "error":
      notice(event.message || "Something went wrong.");
      break;
    default:
      break;
  }
}

function putItem(item) {
  if (item.type === "hidden_context_item" || item.type === "sdk_hidden_context") return;
  if (!state.items.has(item.id)) state.order.push(item.id);
  state.items.set(item.id, item);
  renderItems();
  if (item.type === "client_tool_call" && item.status === "pending") queueMicrotask(() => runClientTool(item));
}

function applyUpdate(itemId, update) {
  const item = state.items.get(itemId);
  if (!item) return;
  if (item.type === "assistant_message") {
    while (item.content.length <= (update.content_index || 0)) item.content.push({ type: "output_text", text: "", annotations: [] });
    if (update.type === "assistant_message.content_part.text_delta") item.content[update.content_index].text += update.delta;
    if (update.type === "assistant_message.content_part.added" || update.type === "assistant_message.content_part.done") {
      item.content[update.content_index] = update.content;
    }
  } else if (item.type === "widget" && update.type === "widget.root.updated") {
    item.widget = update.widget;
  }
  renderItems();
}

// ---- rendering ---------------------------------------------------------------
function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(label, onClick) {
  const b = el("button", null, label);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function renderHeader() {
  const t = state.thread;
  $("thread-title").textContent = (t && t.title) || "New chat";
  const status = t && t.status && t.status.type !== "active" ? t.status.type + (t.status.reason ? ": " + t.status.reason : "") : "";
  $("thread-status").textContent = status;
  $("rename").hidden = $("delete").hidden = !state.threadId;
}

function renderItems() {
  const list = $("items");
  list.replaceChildren(...state.order.map((id) => renderItem(state.items.get(id))).filter(Boolean));
  list.scrollTop = list.scrollHeight;
}

function renderItem(item) {
  const li = el("li");
  li.dataset.itemId = item.id;
  li.dataset.type = item.type;
  if (item.type === "user_message") {
    li.className = "user";
    li.append(el("div", null, item.content.map((c) => c.text).join(" ")));
    for (const a of item.attachments || []) {
      const box = el("div", "attachment", "Attachment: " + a.name);
      if (a.type === "image" && a.preview_url) { const img = el("img"); img.src = a.preview_url; img.alt = a.name; box.append(img); }
      li.append(box);
    }
    const meta = el("div", "meta");
    meta.append(button("Retry", () => stream("threads.retry_after_item", { thread_id: state.threadId, item_id: item.id }).then(reload)));
    li.append(meta);
  } else if (item.type === "assistant_message") {
    li.className = "assistant";
    li.append(el("div", "text", item.content.map((c) => c.text).join("")));
    const meta = el("div", "meta");
    for (const [label, kind] of [["Helpful", "positive"], ["Not helpful", "negative"]]) {
      meta.append(button(label, () => call("items.feedback", { thread_id: state.threadId, item_ids: [item.id], kind })
        .then(() => { meta.dataset.feedback = kind; meta.append(el("span", null, "thanks")); }, (e) => notice(e.message))));
    }
    li.append(meta);
  } else if (item.type === "widget") {
    li.className = "card";
    renderWidget(item.widget, li, item);
  } else if (item.type === "client_tool_call") {
    li.className = "tool";
    li.textContent = "Client tool " + item.name + ": " + item.status;
  } else if (item.type === "structured_input") {
    li.className = "question";
    renderQuestions(item, li);
  } else if (item.type === "workflow" || item.type === "task") {
    li.className = "tool";
    li.textContent = "Working…";
  } else if (item.type === "end_of_turn") {
    return null;
  } else {
    li.textContent = "[" + item.type + "]";
  }
  return li;
}

function renderWidget(node, parent, item) {
  if (!node || typeof node !== "object") return;
  if (node.type === "Title") parent.append(el("div", "title", node.value));
  else if (node.type === "Text" || node.type === "Markdown") parent.append(el("div", "text", node.value));
  else if (node.type === "Button") {
    const action = node.onClickAction;
    parent.append(button(node.label || "…", () => {
      if (!action) return;
      const params = { thread_id: state.threadId, item_id: item.id, action: { type: action.type, payload: action.payload } };
      if (action.streaming === false) {
        call("threads.sync_custom_action", params).then((r) => { if (r.updated_item) putItem(r.updated_item); }, (e) => notice(e.message));
      } else {
        stream("threads.custom_action", params);
      }
    }));
  }
  for (const child of node.children || []) renderWidget(child, parent, item);
}

function renderQuestions(item, li) {
  const form = el("form");
  for (const q of item.inputs) {
    const field = el("fieldset");
    field.append(el("legend", null, q.question));
    if (q.type === "multiple_choice") {
      for (const opt of q.options) {
        const label = el("label");
        const input = el("input");
        input.type = q.multiple ? "checkbox" : "radio";
        input.name = q.id;
        input.value = opt.value;
        input.disabled = item.status !== "pending";
        if (q.answer && (q.answer.values || []).includes(opt.value)) input.checked = true;
        label.append(input, document.createTextNode(" " + opt.value));
        field.append(label);
      }
    } else {
      const input = el("input");
      input.name = q.id;
      input.disabled = item.status !== "pending";
      if (q.answer && q.answer.values) input.value = q.answer.values.join(", ");
      field.append(input);
    }
    form.append(field);
  }
  if (item.status === "pending") {
    const submit = el("button", null, "Answer");
    submit.type = "submit";
    form.append(submit);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const answers = {};
      for (const q of item.inputs) {
        const values = [...form.querySelectorAll(`[name="${CSS.escape(q.id)}"]`)]
          .filter((i) => (i.type === "radio" || i.type === "checkbox" ? i.checked : i.value.trim()))
          .map((i) => i.value.trim());
        answers[q.id] = values.length ? { values } : { skipped: true };
      }
      stream("threads.add_structured_input", { thread_id: state.threadId, item_id: item.id, input: { answers } });
    });
  } else {
    form.append(el("div", "meta", item.status));
  }
  li.append(form);
}

// ---- client tools --------------------------------------------------------------
const clientTools = {
  get_selection: () => ({ selection: String(window.getSelection() || "") || "(nothing selected)" }),
};

function runClientTool(item) {
  if (state.abort) { setTimeout(() => runClientTool(item), 50); return; } // wait for the stream to end
  const tool = clientTools[item.name];
  const result = tool ? tool(item.arguments) : { error: "unknown client tool " + item.name };
  item.status = "completed";
  stream("threads.add_client_tool_output", { thread_id: state.threadId, result });
}

// ---- threads ----------------------------------------------------------------------
async function refreshThreads() {
  try {
    const page = await call("threads.list", { limit: 50, order: "desc" });
    $("threads").replaceChildren(...page.data.map((t) => {
      const li = el("li", t.id === state.threadId ? "active" : "", t.title || "Untitled");
      li.dataset.threadId = t.id;
      li.addEventListener("click", () => openThread(t.id));
      return li;
    }));
  } catch (err) {
    notice(err.message);
  }
}

async function openThread(threadId) {
  state.threadId = threadId;
  state.items.clear();
  state.order = [];
  try {
    state.thread = await call("threads.get_by_id", { thread_id: threadId });
    const page = await call("items.list", { thread_id: threadId, limit: 100, order: "desc" });
    for (const item of page.data.reverse()) {
      if (!state.items.has(item.id)) state.order.push(item.id);
      state.items.set(item.id, item);
    }
  } catch (err) {
    notice(err.message);
  }
  renderHeader();
  renderItems();
  refreshThreads();
}

function reload() { if (state.threadId) openThread(state.threadId); }

function newChat() {
  state.threadId = null;
  state.thread = null;
  state.items.clear();
  state.order = [];
  renderHeader();
  renderItems();
  refreshThreads();
}

// ---- composer ----------------------------------------------------------------------
async function attach(file) {
  try {
    const created = await call("attachments.create", { name: file.name, size: file.size, mime_type: file.type || "application/octet-stream" });
    const d = created.upload_descriptor;
    const form = new FormData();
    form.append("file", file);
    const h = headers(d.headers);
    delete h["Content-Type"];
    const response = await fetch(d.url, { method: d.method, headers: h, body: form });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || "upload failed");
    }
    state.files.push({ id: created.id, name: file.name });
    renderFiles();
  } catch (err) {
    notice(err.message);
  }
}

function renderFiles() {
  $("pending-files").replaceChildren(...state.files.map((f) => {
    const chip = el("span", "attachment", "Attachment: " + f.name + " ");
    chip.append(button("×", () => {
      call("attachments.delete", { attachment_id: f.id }).catch(() => {});
      state.files = state.files.filter((x) => x !== f);
      renderFiles();
    }));
    return chip;
  }));
}

async function send(ev) {
  ev.preventDefault();
  const text = $("message").value.trim();
  if (!text && !state.files.length) return;
  const input = {
    content: [{ type: "input_text", text }],
    attachments: state.files.map((f) => f.id),
    inference_options: {},
  };
  $("message").value = "";
  state.files = [];
  renderFiles();
  hideNotice();
  if (state.threadId) await stream("threads.add_user_message", { thread_id: state.threadId, input });
  else await stream("threads.create", { input });
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").hidden = !busy;
}

function notice(message) {
  $("notice").textContent = message;
  $("notice").hidden = false;
}

function hideNotice() { $("notice").hidden = true; }

function init() {
  const id = identity();
  $("dev-user").value = id.user;
  $("dev-tenant").value = id.tenant;
  $("token").value = id.token;
  $("save-identity").addEventListener("click", () => {
    localStorage.setItem("ck.user", $("dev-user").value.trim());
    localStorage.setItem("ck.tenant", $("dev-tenant").value.trim());
    sessionStorage.setItem("ck.token", $("token").value.trim());
    newChat();
  });
  $("composer").addEventListener("submit", send);
  $("message").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("composer").requestSubmit(); }
  });
  $("stop").addEventListener("click", () => { if (state.abort) state.abort.abort(); setTimeout(reload, 300); });
  $("file").addEventListener("change", (ev) => { for (const f of ev.target.files) attach(f); ev.target.value = ""; });
  $("new-chat").addEventListener("click", newChat);
  $("rename").addEventListener("click", async () => {
    const title = prompt("Thread title", (state.thread && state.thread.title) || "");
    if (title === null || !title.trim()) return;
    try { state.thread = await call("threads.update", { thread_id: state.threadId, title: title.trim() }); renderHeader(); refreshThreads(); }
    catch (err) { notice(err.message); }
  });
  $("delete").addEventListener("click", async () => {
    if (!confirm("Delete this thread?")) return;
    try { await call("threads.delete", { thread_id: state.threadId }); newChat(); } catch (err) { notice(err.message); }
  });
  renderHeader();
  refreshThreads();
}

document.addEventListener("DOMContentLoaded", init);
