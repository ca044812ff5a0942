// Thread items as DOM. Each item gets an ItemView that owns its element and applies streamed
// updates to that element only (the rest of the thread is never rebuilt).

import { h, icon, srOnly, uid } from "./dom.js";
import { MarkdownView, plainText } from "./markdown.js";
import { applyWidgetUpdate, renderWidget, updateWidget } from "./widgets.js";

const HIDDEN = new Set(["end_of_turn", "hidden_context_item", "sdk_hidden_context"]);

export function isVisible(item) {
  return item && !HIDDEN.has(item.type);
}

/** Text of an assistant message (for the live region and copy). */
export function messageText(item) {
  return (item.content || []).map((part) => part.text || "").join("\n\n");
}

export class ItemView {
  /** `ctx`: see ChatKitElement#itemContext. */
  constructor(item, ctx) {
    this.item = item;
    this.ctx = ctx;
    this.el = h("li", { class: `item item-${item.type}`, dataset: { itemId: item.id, type: item.type } });
    this.parts = [];
    this.render();
  }

  /** Replace the item (thread.item.done / replaced) and redraw it. */
  replace(item) {
    if (this.item.type === "widget" && item.type === "widget" && this.widgetEl) {
      this.item = item;
      updateWidget(this.widgetEl, item.widget, this.widgetContext());
      return;
    }
    if (this.item.type === "assistant_message" && item.type === "assistant_message" && this.parts.length) {
      this.item = item;
      this.drawText();
      this.drawFooter();
      return;
    }
    this.item = item;
    this.render();
  }

  /** Apply a thread.item.updated payload. Text deltas only mark the text dirty (drawn per frame). */
  applyUpdate(update) {
    const item = this.item;
    switch (update.type) {
      case "assistant_message.content_part.added":
      case "assistant_message.content_part.done": {
        item.content = item.content || [];
        item.content[update.content_index] = update.content;
        this.scheduleText();
        if (update.type.endsWith(".done")) this.drawSources();
        break;
      }
      case "assistant_message.content_part.text_delta": {
        item.content = item.content || [];
        const part = item.content[update.content_index] || (item.content[update.content_index] = { type: "output_text", text: "", annotations: [] });
        part.text += update.delta;
        this.scheduleText();
        break;
      }
      case "assistant_message.content_part.annotation_added": {
        const part = (item.content || [])[update.content_index];
        if (part) {
          part.annotations = part.annotations || [];
          part.annotations[update.annotation_index] = update.annotation;
          this.drawSources();
        }
        break;
      }
      case "widget.root.updated":
      case "widget.component.updated":
      case "widget.streaming_text.value_delta": {
        item.widget = applyWidgetUpdate(item.widget, update);
        if (this.widgetEl) updateWidget(this.widgetEl, item.widget, this.widgetContext());
        break;
      }
      case "workflow.task.added":
      case "workflow.task.updated": {
        if (item.type === "workflow") {
          item.workflow.tasks = item.workflow.tasks || [];
          item.workflow.tasks[update.task_index] = update.task;
        } else if (item.type === "task") item.task = update.task;
        this.render();
        break;
      }
      case "generated_image.updated": {
        item.image = update.image;
        this.progress = update.progress;
        this.render();
        break;
      }
      default:
        break;
    }
  }

  scheduleText() {
    if (!this.textJob) this.textJob = () => this.drawText();
    this.ctx.schedule(this.textJob);
  }

  /** Set while this item streams: a label for a stopped answer, no actions until it is done. */
  setStreaming(streaming, stopped = false) {
    this.streaming = streaming;
    this.stopped = stopped;
    if (this.item.type === "assistant_message") {
      this.drawText();
      this.drawFooter();
    }
  }

  render() {
    const { item, ctx } = this;
    const { t } = ctx;
    this.parts = [];
    this.widgetEl = null;
    this.footer = null;
    this.sourcesEl = null;
    const el = this.el;
    el.replaceChildren();
    switch (item.type) {
      case "user_message": {
        el.append(srOnly(t("you")));
        const bubble = h("div", { class: "bubble" });
        if (item.quoted_text) bubble.append(h("blockquote", { class: "quote", text: item.quoted_text }));
        const text = h("div", { class: "user-text" });
        for (const part of item.content || []) {
          if (part.type === "input_tag") text.append(h("span", { class: "tag", text: part.text }));
          else text.append(part.text || "");
        }
        bubble.append(text);
        if ((item.attachments || []).length) bubble.append(attachmentList(item.attachments, ctx));
        el.append(bubble);
        break;
      }
      case "assistant_message": {
        el.append(srOnly(t("assistant")));
        this.body = h("div", { class: "answer" });
        el.append(this.body);
        this.drawText();
        this.drawSources();
        this.drawFooter();
        break;
      }
      case "client_tool_call": {
        const done = item.status === "completed";
        el.append(h("p", { class: "tool-call" }, icon(done ? "check" : "bolt"), h("span", { text: t(done ? "toolDone" : "toolRunning", { name: item.name }) })));
        break;
      }
      case "widget": {
        this.widgetEl = renderWidget(item.widget, this.widgetContext());
        el.append(this.widgetEl);
        break;
      }
      case "generated_image": {
        if (item.image && item.image.url && ctx.imageAllowed(item.image.url)) {
          el.append(h("figure", { class: "generated" }, h("img", { src: item.image.url, alt: t("generatedImage"), referrerpolicy: "no-referrer" })));
        } else {
          const pct = typeof this.progress === "number" ? ` ${Math.round(this.progress * 100)}%` : "";
          el.append(h("p", { class: "muted", text: t("generatingImage") + pct }));
        }
        break;
      }
      case "structured_input":
        el.append(structuredInput(item, ctx));
        break;
      case "workflow":
        el.append(workflow(item.workflow, ctx));
        break;
      case "task":
        el.append(h("ul", { class: "tasks" }, task(item.task, ctx)));
        break;
      default:
        el.append(h("p", { class: "muted", text: item.type }));
    }
  }

  widgetContext() {
    const { ctx } = this;
    return {
      t: ctx.t,
      scheme: ctx.scheme,
      imageAllowed: ctx.imageAllowed,
      onAction: (action, details) => ctx.widgetAction(action, this.item, details),
    };
  }

  drawText() {
    const content = this.item.content || [];
    while (this.parts.length < Math.max(1, content.length)) {
      const el = h("div", { class: "md" });
      this.body.append(el);
      this.parts.push(new MarkdownView(el, { copyLabel: this.ctx.t("copyCode") }));
    }
    content.forEach((part, i) => this.parts[i].update(part.text || ""));
    this.el.classList.toggle("streaming", Boolean(this.streaming));
  }

  drawSources() {
    if (this.item.type !== "assistant_message") return;
    const sources = [];
    const seen = new Set();
    for (const part of this.item.content || []) {
      for (const ann of part.annotations || []) {
        const src = ann && ann.source;
        if (!src) continue;
        const key = src.url || src.filename || src.id || src.title;
        if (seen.has(key)) continue;
        seen.add(key);
        sources.push(src);
      }
    }
    if (this.sourcesEl) this.sourcesEl.remove();
    this.sourcesEl = null;
    if (!sources.length) return;
    const headingId = uid("src");
    const list = h("ol", { class: "source-list", "aria-labelledby": headingId });
    for (const src of sources) {
      let title;
      if (src.type === "url" && /^https?:/i.test(src.url || "")) {
        title = h("a", { href: src.url, target: "_blank", rel: "noopener noreferrer nofollow", text: src.title || src.url });
      } else {
        title = h("span", { text: src.title || src.filename || src.label || "" });
      }
      const meta = src.type === "file" ? src.filename : src.type === "url" ? src.attribution || hostOf(src.url) : src.label;
      list.append(h("li", null, src.icon ? icon(src.icon) : icon(src.type === "file" ? "document" : "globe"), title, meta && meta !== src.title ? h("span", { class: "muted", text: ` · ${meta}` }) : null, src.description ? h("p", { class: "muted", text: src.description }) : null));
    }
    this.sourcesEl = h("div", { class: "sources" }, h("p", { class: "sources-title", id: headingId, text: this.ctx.t("sources") }), list);
    this.body.after(this.sourcesEl);
  }

  drawFooter() {
    if (this.item.type !== "assistant_message") return;
    const { ctx } = this;
    const { t } = ctx;
    if (this.footer) this.footer.remove();
    this.footer = null;
    if (this.streaming) return;
    const row = h("div", { class: "item-actions" });
    if (this.stopped) row.append(h("span", { class: "badge stopped", text: t("stopped") }));
    if (navigator.clipboard) {
      const copy = h("button", { type: "button", class: "icon-button", "aria-label": t("copy"), title: t("copy") }, icon("copy"));
      copy.addEventListener("click", () => {
        navigator.clipboard.writeText(plainText(messageText(this.item))).then(() => {
          copy.setAttribute("aria-label", t("copied"));
          copy.replaceChildren(icon("check"));
        }, () => {});
      });
      row.append(copy);
    }
    if (ctx.options.feedback) {
      const given = ctx.feedbackFor(this.item.id);
      for (const [kind, label, name] of [["positive", t("helpful"), "thumbs-up"], ["negative", t("notHelpful"), "thumbs-down"]]) {
        const b = h("button", { type: "button", class: "icon-button feedback", "aria-label": label, title: label, "aria-pressed": String(given === kind), dataset: { kind } }, icon(name));
        if (given) b.setAttribute("aria-disabled", "true");
        b.addEventListener("click", () => {
          if (ctx.feedbackFor(this.item.id)) return;
          ctx.feedback(this.item, kind).then(() => {
            const hadFocus = b.matches(":focus");
            this.drawFooter();
            // The row is redrawn: keep keyboard focus on the same button.
            if (hadFocus && this.footer) this.footer.querySelector(`[data-kind="${kind}"]`)?.focus();
          }, () => {});
        });
        row.append(b);
      }
      if (given) row.append(h("span", { class: "muted thanks", role: "status", text: t("feedbackThanks") }));
    }
    if (ctx.options.retry) {
      const b = h("button", { type: "button", class: "icon-button", "aria-label": t("retry"), title: t("retry") }, icon("reload"));
      b.addEventListener("click", () => ctx.retry(this.item, row));
      row.append(b);
    }
    if (row.children.length) {
      this.footer = row;
      this.el.append(row);
    }
  }
}

function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}

/** Chips for attached files, with a thumbnail for images. */
export function attachmentList(attachments, ctx, onRemove = null) {
  const list = h("ul", { class: "attachments" });
  for (const a of attachments) {
    const chip = h("li", { class: `chip${a.status === "error" ? " failed" : ""}`, dataset: { attachmentId: a.id || "" } });
    const preview = a.type === "image" && (a.preview_url || a.localUrl);
    if (preview && ctx.imageAllowed(preview)) chip.append(h("img", { class: "thumb", src: preview, alt: "", referrerpolicy: "no-referrer" }));
    else chip.append(icon(a.type === "image" ? "square-image" : "document"));
    chip.append(h("span", { class: "chip-name", text: a.name }));
    if (a.status === "uploading") chip.append(h("span", { class: "spinner", role: "img", "aria-label": ctx.t("uploading", { name: a.name }) }));
    if (onRemove) {
      const x = h("button", { type: "button", class: "icon-button small", "aria-label": ctx.t("removeAttachment", { name: a.name }), title: ctx.t("removeAttachment", { name: a.name }) }, icon("close"));
      x.addEventListener("click", () => onRemove(a));
      chip.append(x);
    }
    list.append(chip);
  }
  return list;
}

function structuredInput(item, ctx) {
  const { t } = ctx;
  const pending = item.status === "pending";
  const form = h("form", { class: "structured" });
  for (const q of item.inputs || []) {
    const answer = (q.answer && q.answer.values) || [];
    if (q.type === "multiple_choice") {
      const set = h("fieldset", { disabled: !pending }, h("legend", { text: q.question }));
      for (const opt of q.options || []) {
        set.append(h("label", { class: "w-check" }, h("input", { type: q.multiple ? "checkbox" : "radio", name: q.id, value: opt.value, checked: answer.includes(opt.value) }), h("span", { text: opt.value })));
      }
      form.append(set);
    } else {
      const id = uid("si");
      const field = h("div", { class: "field" }, h("label", { for: id, text: q.question }));
      if (q.description) field.append(h("p", { class: "muted", text: q.description }));
      field.append(h("textarea", { id, name: q.id, rows: 2, class: "w-input", disabled: !pending, value: answer.join(", ") }));
      form.append(field);
    }
  }
  if (pending) {
    const skip = h("button", { type: "button", class: "w-button variant-outline", text: t("skip") });
    skip.addEventListener("click", () => ctx.answerStructured(item, null));
    form.append(h("div", { class: "row-actions" }, skip, h("button", { type: "submit", class: "w-button style-primary", text: t("answer") })));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const answers = {};
      for (const q of item.inputs || []) {
        const values = [...form.elements]
          .filter((el) => el.name === q.id && (el.type === "radio" || el.type === "checkbox" ? el.checked : el.value.trim()))
          .map((el) => el.value.trim());
        answers[q.id] = values.length ? { values, skipped: false } : { values: [], skipped: true };
      }
      ctx.answerStructured(item, answers);
    });
  } else {
    form.append(h("p", { class: "badge", text: t(item.status === "skipped" ? "skipped" : "answered") }));
  }
  return form;
}

function workflow(wf, ctx) {
  const { t } = ctx;
  const tasks = wf.tasks || [];
  const running = tasks.some((task) => task.status_indicator === "loading");
  let summary;
  if (wf.summary && wf.summary.title) summary = wf.summary.title;
  else if (wf.summary && typeof wf.summary.duration === "number") summary = `${t("thought")} · ${wf.summary.duration}s`;
  else summary = running ? t("working") : wf.type === "reasoning" ? t("thought") : t("working");
  const details = h("details", { class: "workflow", open: Boolean(wf.expanded) || running });
  details.append(h("summary", null, wf.summary && wf.summary.icon ? icon(wf.summary.icon) : icon(running ? "bolt" : "check"), h("span", { text: summary })));
  details.append(h("ul", { class: "tasks" }, tasks.map((task) => taskRow(task, ctx))));
  return details;
}

function task(tk, ctx) {
  return taskRow(tk, ctx);
}

function taskRow(tk, ctx) {
  const { t } = ctx;
  const li = h("li", { class: `task task-${tk.type} status-${tk.status_indicator || "none"}` });
  const mark = tk.status_indicator === "loading" ? h("span", { class: "spinner", "aria-hidden": "true" }) : icon(tk.icon || (tk.status_indicator === "complete" ? "check" : "dots-horizontal"));
  let title = tk.title;
  if (!title) title = { thought: t("thought"), web_search: t("searched"), file: t("files"), image: t("image") }[tk.type] || "";
  li.append(h("div", { class: "task-head" }, mark, h("span", { class: "task-title", text: title })));
  if (tk.type === "custom" && tk.content) li.append(h("p", { class: "muted", text: tk.content }));
  if (tk.type === "thought" && tk.content) li.append(h("p", { class: "muted", text: tk.content }));
  if (tk.type === "web_search") {
    if ((tk.queries || []).length) li.append(h("p", { class: "muted", text: tk.queries.join(" · ") }));
    if ((tk.sources || []).length) {
      li.append(h("ul", { class: "task-sources" }, tk.sources.map((s) => h("li", null, /^https?:/i.test(s.url || "") ? h("a", { href: s.url, target: "_blank", rel: "noopener noreferrer nofollow", text: s.title || s.url }) : s.title))));
    }
  }
  if (tk.type === "file" && (tk.sources || []).length) {
    li.append(h("ul", { class: "task-sources" }, tk.sources.map((s) => h("li", null, icon("document"), s.title || s.filename))));
  }
  return li;
}
