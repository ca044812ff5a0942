// A page that renders a canned thread (items built by the test with openai-chatkit's own types)
// through an api.fetch that answers from memory: it exercises rendering of every item and
// widget type without a model that can produce them. Requests are recorded in window.__requests.
const chat = document.getElementById("chat");
const canned = await (await fetch("/canned.json")).json();
window.__requests = [];
window.__events = [];
chat.addEventListener("chatkit.error", (event) => window.__events.push({ name: "chatkit.error", message: event.detail.error.message }));

function json(body) {
  return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
}

function sse(events) {
  const body = events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join("");
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

async function fakeFetch(url, init = {}) {
  const request = JSON.parse(init.body);
  window.__requests.push(request);
  switch (request.type) {
    case "threads.list":
      return json({ data: [canned.thread], has_more: false });
    case "threads.get_by_id":
      return json({ ...canned.thread, items: { data: [], has_more: false } });
    case "items.list":
      return json({ data: canned.items.slice().reverse(), has_more: false, after: null });
    case "threads.custom_action":
      return sse((canned.action_events || {})[request.params.action.type] || []);
    case "threads.sync_custom_action":
      return json({ updated_item: null });
    default:
      return json({});
  }
}

await customElements.whenDefined("chatkit-onprem");
chat.setOptions({
  api: { url: "/chatkit", fetch: fakeFetch },
  initialThread: canned.thread.id,
  theme: new URL(location.href).searchParams.get("theme") || "light",
  threadItemActions: { feedback: true, retry: true },
  widgets: { onAction: async (action, item) => window.__requests.push({ type: "client.action", action, itemId: item.id }) },
});
