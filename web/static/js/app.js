// Behaviour the pages share: the reply box and the dialog list's current item.
// Sending goes to the JSON API with the page's CSRF token, then the conversation is reloaded.

import "./assignment.js";
import { attachment, upload } from "./attach.js";
import "./canned_settings.js";
import "./compose.js";
import { reloadConversation } from "./conversation.js";
import "./history.js";
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
  await reloadConversation(form.dataset.dialogId);
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
