// The inbox's side panel: the contact edited in place, and open tasks completed from here.
//
// A field is saved when it changes (blur, or Enter): one PATCH of that field. The API's
// error shows under the field it names; the saved value (a phone in E.164) replaces
// what was typed.

import { callApi, errorText } from "./http.js";

function showError(form, field, text) {
  for (const slot of form.querySelectorAll("[data-field-error]")) {
    const mine = slot.dataset.fieldError === field;
    slot.hidden = !mine;
    slot.textContent = mine ? text : "";
    form.elements[slot.dataset.fieldError].setAttribute("aria-invalid", String(mine));
  }
}

async function saveField(input) {
  const form = input.form;
  if (input.value.trim() === input.dataset.saved) return;
  const saved = form.querySelector("[data-contact-saved]");
  saved.hidden = true;
  const path = `/api/v1/contacts/${form.dataset.contactId}`;
  const answer = await callApi("PATCH", path, { [input.name]: input.value.trim() || null });
  if (!answer.ok) {
    showError(form, answer.body.error?.field ?? input.name, errorText(answer));
    return;
  }
  showError(form, null, "");
  input.value = input.dataset.saved = answer.body[input.name] ?? "";
  if (input.name === "name") {
    for (const title of document.querySelectorAll("[data-contact-name]")) {
      title.textContent = answer.body.name;
    }
  }
  saved.hidden = false;
}

document.addEventListener("change", (event) => {
  if (event.target.form?.matches("[data-contact-form]")) saveField(event.target);
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("[data-contact-form]");
  if (!form) return;
  event.preventDefault(); // Enter in a field: save it, as leaving it would
  if (document.activeElement?.form === form) saveField(document.activeElement);
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-complete-task]");
  if (!button) return;
  button.disabled = true;
  const answer = await callApi("POST", `/api/v1/tasks/${button.dataset.completeTask}/complete`);
  const panel = button.closest("[data-side-panel]");
  if (!answer.ok) {
    const error = panel.querySelector("[data-task-error]");
    error.textContent = errorText(answer);
    error.hidden = false;
    button.disabled = false;
    return;
  }
  const open = document.getElementById("conversation-area").dataset.dialogId;
  window.htmx.ajax("GET", `/inbox/${open}`, {
    target: "[data-side-panel]",
    select: "[data-side-panel]",
    swap: "outerHTML",
  });
});
