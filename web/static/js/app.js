// Behaviour the pages share: the reply box and the dialog list's current item.
// Sending goes to the JSON API with the page's CSRF token; htmx then reloads the conversation.

import "./assignment.js";
import { attachment, upload } from "./attach.js";
import "./canned_settings.js";
import "./compose.js";
import { currentSearch } from "./history.js";
import { csrfToken } from "./http.js";
import "./media.js";
import "./panel.js";
import "./templates_picker.js";
import "./unread.js";

/** Post the reply (or the note, in Note mode; or the attached file with the text as its
 * caption), then fetch the conversation again so the new bubble shows its status. */
async function sendReply(form) {
  const text = form.elements.text.value.trim();
  const error = form.querySelector("[data-reply-error]");
  const file = attachment(form);
  if (!text && !file) return;
  const kind = form.elements.mode?.value === "note" ? "notes" : "messages";
  const response = file
    ? await upload(form, file, text)
    : await fetch(`/api/v1/dialogs/${form.dataset.dialogId}/${kind}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify({ text }),
        credentials: "same-origin",
      });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    error.textContent = body.error?.message ?? response.statusText;
    error.hidden = false;
    return;
  }
  // the page that holds the conversation (the inbox, or a deal page) says where it reloads
  const area = document.getElementById("conversation-area");
  await window.htmx.ajax("GET", area.dataset.reload ?? `/inbox/${form.dataset.dialogId}`, {
    target: "#conversation-area",
    select: "#conversation-area",
    swap: "outerHTML",
  });
  // htmx drops a live refetch whose element this swap replaced, and the reload may have
  // been rendered before the send it raced (a bubble left "Queued"): fetch once more
  queueRefetch(String(form.dataset.dialogId));
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest("[data-reply-form]");
  if (!form) return;
  event.preventDefault();
  sendReply(form);
});

// Enter sends, Shift+Enter breaks the line.
document.addEventListener("keydown", (event) => {
  const box = event.target.closest?.("[data-reply-form] textarea");
  if (!box || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  box.form.requestSubmit();
});

/** Show the newest message of a conversation just opened (later swaps, older messages
 * loaded above or the list's next page, leave the reader where they are), and mark the
 * open dialog in the list. */
function settle() {
  const area = document.getElementById("conversation-area");
  if (!area) return;
  const messages = area.querySelector("[data-messages]");
  if (messages && !("settled" in messages.dataset)) {
    messages.scrollTop = messages.scrollHeight;
    messages.dataset.settled = "";
  }
  const open = area.dataset.dialogId;
  for (const link of document.querySelectorAll("[data-dialog-list] a")) {
    if (link.getAttribute("href") === `/inbox/${open}`) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
}

document.addEventListener("htmx:afterSettle", settle);
document.addEventListener("DOMContentLoaded", settle);

// Arrow keys move between dialogs in the list; Enter opens the focused one.
document.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const current = event.target.closest?.("[data-dialog-list] a");
  if (!current) return;
  const links = [...document.querySelectorAll("[data-dialog-list] a")];
  const next = links[links.indexOf(current) + (event.key === "ArrowDown" ? 1 : -1)];
  if (!next) return;
  event.preventDefault();
  next.focus();
});

// Live: what others did shows without reload. A message or dialog event fetches the dialog
// list again, and the open conversation's messages when the event is about it (the reply
// box, and whatever is typed in it, stays as it is).
const LIVE_KINDS = /^(message|dialog|contact|note)\./;
let refetch = null;
let refreshing = false;
let touched = new Set(); // dialogs the events of this burst were about ("*": all of them)

function refresh(dialogs) {
  const area = document.getElementById("conversation-area");
  const open = area?.dataset.dialogId;
  const swaps = [];
  const results = document.querySelector("[data-dialog-results]");
  if (results) {
    // the results only: the tabs, the search box and whatever is typed in it stay
    const filter = document.querySelector("[data-dialogs]")?.dataset.filter ?? "all";
    const query = new URLSearchParams({ q: currentSearch(), filter, ...(open ? { open } : {}) });
    swaps.push(window.htmx.ajax("GET", `/inbox/dialogs?${query}`, {
      source: "[data-dialog-results]",
      target: "[data-dialog-results]",
      select: "[data-dialog-results]",
      swap: "outerHTML",
    }));
  }
  if (open && (dialogs.has("*") || dialogs.has(open))) {
    swaps.push(window.htmx.ajax("GET", `/inbox/${open}`, {
      source: "[data-messages]",
      target: "[data-messages]",
      select: "[data-messages]",
      swap: "outerHTML",
    }));
  }
  return Promise.allSettled(swaps);
}

/** One refetch at a time. htmx keeps one request per source element and lets a newer one
 * replace the one queued behind it (the page body, unless a source is named), and drops a
 * request queued on an element its swap replaced: so each fetch names its own source,
 * and events arriving while a refetch is in flight wait for it, then fetch again. */
async function refreshAll() {
  if (refreshing) return;
  refreshing = true;
  while (touched.size) {
    const dialogs = touched;
    touched = new Set();
    await refresh(dialogs);
  }
  refreshing = false;
}

document.addEventListener("funnelbox:event", (event) => {
  const { kind, data } = event.detail;
  const reset = kind === "live.reset";
  if (!reset && !LIVE_KINDS.test(kind)) return;
  if (kind === "dialog.read") {
    // a read marker changes no message, and only its reader's unread badges
    const me = document.querySelector("[data-user-id]")?.dataset.userId;
    if (String(event.detail.actor_id) === me) touched.add("list");
  } else {
    touched.add(reset || data?.dialog_id == null ? "*" : String(data.dialog_id));
  }
  queueRefetch();
});

/** Refetch what ``touched`` names (and ``dialog``) shortly: a burst of events is one refetch. */
function queueRefetch(dialog) {
  if (dialog) touched.add(dialog);
  clearTimeout(refetch);
  refetch = setTimeout(refreshAll, 100);
}
