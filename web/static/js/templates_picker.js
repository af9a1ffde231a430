// The reply box of a WhatsApp dialog outside the 24-hour window (inbox/_window.html).
//
// While the window is closed the text box gives way to the channel's approved templates
// (fetched when first needed): pick one, fill in its parameters (the preview shows the
// message as the customer will read it), send it through the JSON API. Note mode keeps
// the text box, since notes never leave the team. The window closes by itself when its
// time comes, and the panel is fetched again when the customer writes, which opens it.

import { reloadConversation } from "./conversation.js";
import { callApi, errorText } from "./http.js";

const timers = new WeakMap(); // panel -> the timeout that closes its window

const isClosed = (panel) => !panel.dataset.ends || Date.now() >= Date.parse(panel.dataset.ends);

function load(panel) {
  if ("loaded" in panel.dataset) return;
  panel.dataset.loaded = "";
  const picker = panel.querySelector("[data-template-picker]");
  window.htmx.ajax("GET", `/inbox/${panel.dataset.dialogId}/templates`, {
    source: picker,
    target: picker,
    swap: "innerHTML",
  });
}

/** Show the panel's state: the reply box's text cannot be typed in Reply mode while the
 * window is closed (the server would refuse it), and the templates are loaded. */
function sync(panel) {
  const closed = isClosed(panel);
  panel.classList.toggle("is-closed", closed);
  const form = panel.parentElement.querySelector("[data-reply-form]");
  if (form) {
    const blocked = closed && form.elements.mode?.value !== "note";
    form.elements.text.disabled = blocked;
    form.querySelector("[data-reply-submit]").disabled = blocked;
  }
  if (closed) load(panel);
  else if (!timers.has(panel)) {
    const wait = Date.parse(panel.dataset.ends) - Date.now() + 1000;
    timers.set(panel, setTimeout(() => sync(panel), wait));
  }
}

// The picker takes room from the messages above it: one read to its end stays there.
const messagesOf = (picker) => picker.closest("section")?.querySelector("[data-messages]");
document.addEventListener("htmx:beforeSwap", (event) => {
  if (!event.target.matches?.("[data-template-picker]")) return;
  const list = messagesOf(event.target);
  event.target.atEnd = !!list && list.scrollHeight - list.scrollTop - list.clientHeight < 8;
});
document.addEventListener("htmx:afterSwap", (event) => {
  if (!event.target.matches?.("[data-template-picker]") || !event.target.atEnd) return;
  const list = messagesOf(event.target);
  list.scrollTop = list.scrollHeight;
});

const syncAll = () => document.querySelectorAll("[data-window]").forEach(sync);
document.addEventListener("DOMContentLoaded", syncAll);
document.addEventListener("htmx:afterSettle", syncAll);
document.addEventListener("change", (event) => {
  if (event.target.name === "mode" && event.target.form?.matches("[data-reply-form]")) syncAll();
});

// The customer wrote: the window may be open again, so fetch the panel anew.
document.addEventListener("funnelbox:event", (event) => {
  const { kind, data } = event.detail;
  if (kind !== "message.received") return;
  const panel = document.querySelector(`[data-window][data-dialog-id="${data?.dialog_id}"]`);
  if (!panel?.classList.contains("is-closed")) return;
  window.htmx.ajax("GET", `/inbox/${panel.dataset.dialogId}`, {
    source: panel,
    target: panel,
    select: "[data-window]",
    swap: "outerHTML",
  });
});

document.addEventListener("change", (event) => {
  const choice = event.target.closest?.("[data-template-choice]");
  if (!choice) return;
  for (const fields of choice.form.querySelectorAll("[data-template]")) {
    const picked = fields.dataset.template === choice.value;
    fields.hidden = !picked;
    fields.disabled = !picked;
  }
});

document.addEventListener("input", (event) => {
  const input = event.target.closest?.("[data-template] [data-parameter]");
  if (!input) return;
  const slot = input.dataset.parameter;
  const mark = input.closest("[data-template]").querySelector(`[data-slot="${slot}"]`);
  if (mark) mark.textContent = input.value.trim() || `{{${slot}}}`;
});

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("[data-template-form]");
  if (!form) return;
  event.preventDefault();
  const fields = form.querySelector("[data-template]:not([hidden])");
  const error = form.querySelector("[data-template-error]");
  const button = form.querySelector("button[type=submit]");
  const body = {
    name: fields.dataset.name,
    language: fields.dataset.language,
    parameters: [...fields.querySelectorAll("[data-parameter]")].map((i) => i.value.trim()),
  };
  button.disabled = true; // one click, one message
  const answer = await callApi("POST", `/api/v1/dialogs/${form.dataset.dialogId}/templates`, body);
  button.disabled = false;
  if (!answer.ok) {
    error.textContent = errorText(answer);
    error.hidden = false;
    return;
  }
  await reloadConversation(form.dataset.dialogId);
});
