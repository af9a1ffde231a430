// Unread messages: opening a dialog marks it read for the signed-in user, and their
// total shows on the navigation's Inbox item and in the page title ("(3) Inbox"), live.

import { callApi } from "./http.js";

const badge = () => document.querySelector("[data-unread-total]");
const TITLE_COUNT = /^\(\d+\+?\) /;
let markedId = null; // the conversation on screen ("": none) when last looked
let refetch = null;

/** Show the total (capped: "99+") in the badge and the title. */
function show(total) {
  const element = badge();
  if (!element) return;
  const label = total >= Number(element.dataset.cap) ? `${Number(element.dataset.cap) - 1}+` : String(total);
  element.textContent = total ? label : "";
  element.hidden = !total;
  const title = document.title.replace(TITLE_COUNT, "");
  document.title = total ? `(${label}) ${title}` : title;
}

async function loadTotal() {
  const { ok, body } = await callApi("GET", "/api/v1/unread");
  if (ok) show(body.total);
}

async function markRead(dialogId) {
  const { ok, body } = await callApi("POST", `/api/v1/dialogs/${dialogId}/read`);
  if (!ok) return;
  show(body.total);
  // the list is fetched again on the dialog.read event; until then it should not disagree
  const item = document.querySelector(`[data-dialog-list] a[href="/inbox/${dialogId}"]`);
  item?.classList.remove("is-unread");
  item?.querySelector(".unread-badge")?.remove();
}

/** A newly opened conversation (page load or htmx swap) is read by whoever sees it. */
function opened() {
  if (!badge()) return; // not signed in
  const id = document.getElementById("conversation-area")?.dataset.dialogId || "";
  if (id === markedId) return;
  markedId = id;
  if (id) markRead(id);
  else loadTotal();
}

document.addEventListener("DOMContentLoaded", opened);
document.addEventListener("htmx:afterSettle", opened);

document.addEventListener("funnelbox:event", (event) => {
  const element = badge();
  if (!element) return;
  const { kind, data, actor_id: actorId } = event.detail;
  const mine = String(actorId) === element.dataset.userId;
  if (kind === "message.received" && markedId && String(data?.dialog_id) === markedId && !document.hidden) {
    markRead(markedId); // the customer wrote into the conversation on screen
    return;
  }
  if (kind !== "live.reset" && kind !== "message.received" && !(kind === "dialog.read" && mine)) return;
  clearTimeout(refetch); // a burst of messages is one fetch
  refetch = setTimeout(loadTotal, 100);
});
