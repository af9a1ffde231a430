// Settings: canned replies added and deleted through the API, the list fetched again after.

import { callApi, errorText } from "./http.js";

function reload() {
  window.htmx.ajax("GET", "/settings", {
    target: "[data-canned]",
    select: "[data-canned]",
    swap: "outerHTML",
  });
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("[data-canned-form]");
  if (!form) return;
  event.preventDefault();
  const body = Object.fromEntries(["shortcut", "title", "text"].map((k) => [k, form.elements[k].value]));
  const answer = await callApi("POST", "/api/v1/canned-replies", body);
  if (!answer.ok) {
    const error = form.querySelector("[data-canned-error]");
    error.textContent = errorText(answer);
    error.hidden = false;
    const field = form.elements[answer.body.error?.field];
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
    return;
  }
  reload();
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-delete-canned]");
  if (!button) return;
  button.disabled = true;
  const answer = await callApi("DELETE", `/api/v1/canned-replies/${button.dataset.deleteCanned}`);
  if (answer.ok) reload();
  else button.disabled = false;
});
