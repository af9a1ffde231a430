// The open conversation and the dialog list, kept current: live events refetch what they
// concern, and a message sent from this page (a reply, a note, a template) reloads the
// conversation so its new bubble shows.

import { currentSearch } from "./history.js";

// A message or dialog event fetches the dialog list again, and the open conversation's
// messages when the event is about it (the reply box, and whatever is typed in it, stays
// as it is).
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

/** Refetch what ``touched`` names (and ``dialog``) shortly: a burst of events is one refetch. */
function queueRefetch(dialog) {
  if (dialog) touched.add(dialog);
  clearTimeout(refetch);
  refetch = setTimeout(refreshAll, 100);
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

/** After a send: fetch the conversation again so the new bubble shows its status. The page
 * that holds it (the inbox, or a deal page) says where it reloads from. */
export async function reloadConversation(dialogId) {
  const area = document.getElementById("conversation-area");
  await window.htmx.ajax("GET", area?.dataset.reload ?? `/inbox/${dialogId}`, {
    target: "#conversation-area",
    select: "#conversation-area",
    swap: "outerHTML",
  });
  // htmx drops a live refetch whose element this swap replaced, and the reload may have
  // been rendered before the send it raced (a bubble left "Queued"): fetch once more
  queueRefetch(String(dialogId));
}
