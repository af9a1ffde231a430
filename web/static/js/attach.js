// A photo or document in the reply box: picked with the paper clip, pasted or dropped
// on the box. The text becomes its caption; sending uploads both as one multipart form
// (POST /api/v1/dialogs/{id}/media), which the server checks against the channel's
// types and sizes before queueing it like any reply.

import { csrfToken } from "./http.js";

const files = new WeakMap(); // reply form -> the file waiting to go with it

/** The file attached to the reply form, if any (never in Note mode: notes stay text). */
export function attachment(form) {
  return form.elements.mode?.value === "note" ? null : (files.get(form) ?? null);
}

/** Upload the file with ``caption``; the fetch Response (201 with the queued message). */
export function upload(form, file, caption) {
  const body = new FormData();
  body.append("file", file, file.name);
  body.append("caption", caption);
  return fetch(`/api/v1/dialogs/${form.dataset.dialogId}/media`, {
    method: "POST",
    headers: { "X-CSRF-Token": csrfToken() },
    body,
    credentials: "same-origin",
  });
}

/** Refuse at once a file past the most the channel takes (its documents' limit): the
 * server would stop reading it half-way. The finer rules are the server's to tell. */
function tooLarge(form, file) {
  if (file.size <= Number(form.dataset.maxBytes)) return false;
  const error = form.querySelector("[data-reply-error]");
  error.textContent = form.dataset.tooLarge;
  error.hidden = false;
  return true;
}

function attach(form, file) {
  if (file && tooLarge(form, file)) {
    form.querySelector("[data-attach-input]").value = "";
    return;
  }
  if (file) files.set(form, file);
  else files.delete(form);
  const messages = form.closest("section")?.querySelector("[data-messages]");
  const atBottom =
    messages && messages.scrollHeight - messages.scrollTop - messages.clientHeight < 4;
  const chip = form.querySelector("[data-attached]");
  chip.hidden = !file;
  if (atBottom) messages.scrollTop = messages.scrollHeight; // the chip takes room from them
  chip.querySelector("[data-attached-name]").textContent = file?.name ?? "";
  const box = form.elements.text;
  box.required = !file; // a file may go without a caption
  box.placeholder = file ? form.dataset.captionPlaceholder : form.dataset.replyPlaceholder;
  form.querySelector("[data-reply-error]").hidden = true;
  if (!file) form.querySelector("[data-attach-input]").value = "";
  box.focus();
}

const formOf = (event) => event.target.closest?.("[data-reply-form]");

document.addEventListener("change", (event) => {
  if (event.target.matches("[data-attach-input]")) attach(formOf(event), event.target.files[0]);
});

document.addEventListener("click", (event) => {
  if (event.target.closest("[data-attach-remove]")) attach(formOf(event), null);
});

document.addEventListener("paste", (event) => {
  const form = formOf(event);
  const [file] = event.clipboardData?.files ?? [];
  if (!form || !file) return;
  event.preventDefault(); // a pasted screenshot is a file, not text
  attach(form, file);
});

for (const kind of ["dragenter", "dragover"]) {
  document.addEventListener(kind, (event) => {
    const form = formOf(event);
    if (!form || !event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    form.classList.add("is-dropping");
  });
}

document.addEventListener("dragleave", (event) => formOf(event)?.classList.remove("is-dropping"));

document.addEventListener("drop", (event) => {
  const form = formOf(event);
  const [file] = event.dataTransfer?.files ?? [];
  if (!form || !file) return;
  event.preventDefault();
  form.classList.remove("is-dropping");
  attach(form, file);
});
