// Who answers a dialog: the conversation header's control, kept live, and the dialog
// list's filter tabs (all / mine / unassigned), which every list request keeps.

import { callApi } from "./http.js";

const openDialogId = () => document.getElementById("conversation-area")?.dataset.dialogId || "";

/** Fetch the header's assignment control of the open dialog again. */
function reloadControl() {
  const id = openDialogId();
  const control = document.querySelector(`[data-assignment][data-dialog-id="${id}"]`);
  if (!control) return;
  window.htmx.ajax("GET", `/inbox/${id}/assignment`, {
    source: control,
    target: control,
    swap: "outerHTML",
  });
}

async function assign(control, userId) {
  const path = `/api/v1/dialogs/${control.dataset.dialogId}/assignee`;
  const { ok, body } = await callApi("PUT", path, { user_id: userId ? Number(userId) : null });
  if (!ok) {
    const error = control.querySelector("[data-assign-error]");
    error.textContent = body.error?.message ?? "";
    error.hidden = false;
    return;
  }
  reloadControl();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-assign-to]");
  if (button) assign(button.closest("[data-assignment]"), button.dataset.assignTo);
});

document.addEventListener("change", (event) => {
  const select = event.target.closest("[data-assign-select]");
  if (select) assign(select.closest("[data-assignment]"), select.value);
});

// Live: an assignment made anywhere shows in the open conversation's header (the dialog
// list follows through app.js, which refetches it on every dialog event).
document.addEventListener("funnelbox:event", (event) => {
  const { kind, data } = event.detail;
  if (kind === "live.reset" || (kind === "dialog.assigned" && String(data?.dialog_id) === openDialogId())) {
    reloadControl();
  }
});

// Every fetch of the list (a tab, a live refresh) shows the chosen filter and marks the
// open dialog, so a tab's pushed address and a refresh agree with what is on screen.
document.addEventListener("htmx:configRequest", (event) => {
  const url = new URL(event.detail.path, location.href);
  if (url.pathname !== "/inbox/dialogs") return;
  const list = document.querySelector("[data-dialogs]");
  if (!url.searchParams.has("filter") && list) url.searchParams.set("filter", list.dataset.filter);
  if (!url.searchParams.has("open") && openDialogId()) url.searchParams.set("open", openDialogId());
  event.detail.path = `${url.pathname}${url.search}`;
});
