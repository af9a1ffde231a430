// The deal page and the Create deal form: the stage list follows the chosen pipeline, the
// lost reason shows only in a Lost stage, the contact picker links what is picked, a
// contact made inline (Create deal) goes through the API, and the contact whose chat is
// open is marked. Saving and every other change is htmx posting to web/pages/deal.py.

import { callApi, errorText } from "./http.js";

/** Offer only the stages of the chosen pipeline; ``pick`` selects its first one. */
function followPipeline(form, pick) {
  const pipeline = form.querySelector("[data-pipeline-select]");
  const stages = form.querySelector("[data-stage-select]");
  if (!pipeline || !stages) return;
  for (const group of stages.querySelectorAll("optgroup")) {
    const mine = group.dataset.pipelineId === pipeline.value;
    group.hidden = group.disabled = !mine;
    if (mine && (pick || stages.selectedOptions[0]?.parentElement !== group)) {
      stages.value = group.querySelector("option")?.value ?? "";
    }
  }
  showLostReason(form);
}

function showLostReason(form) {
  const reason = form.querySelector("[data-lost-reason]");
  const stage = form.querySelector("[data-stage-select]")?.selectedOptions[0];
  if (!reason) return;
  reason.hidden = stage?.dataset.kind !== "lost";
  reason.querySelector("select").disabled = reason.hidden;
}

function settleForms() {
  for (const form of document.querySelectorAll("[data-deal-form], [data-new-deal]")) {
    followPipeline(form, false);
  }
  const chat = document.querySelector("[data-deal-chat]");
  for (const link of document.querySelectorAll("[data-deal-contacts] [data-contact-id]")) {
    if (chat && link.dataset.contactId === chat.dataset.contactId) {
      link.setAttribute("aria-current", "true");
    } else link.removeAttribute("aria-current");
  }
}

document.addEventListener("DOMContentLoaded", settleForms);
document.addEventListener("htmx:afterSettle", settleForms);

document.addEventListener("change", (event) => {
  const form = event.target.form;
  if (event.target.matches("[data-pipeline-select]")) followPipeline(form, true);
  if (event.target.matches("[data-stage-select]")) showLostReason(form);
});

// A refusal (422, 409, 404) comes back with the column drawn again and the reason under
// its field: swap it like any answer (htmx leaves error answers out by default).
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (status >= 400 && status < 500 && event.detail.target.id === "deal-details") {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

/** Choose a contact on the Create deal form; the first names the deal unless the title
 * was typed by hand. */
function choose(form, id, name) {
  const list = form.querySelector("[data-chosen-contacts]");
  if (!list.querySelector(`[data-chosen="${id}"]`)) {
    const item = form.querySelector("[data-chosen-template]").content.firstElementChild.cloneNode(true);
    item.dataset.chosen = id;
    item.querySelector("input").value = id;
    item.querySelector(".avatar").textContent = name
      .split(/\s+/).slice(0, 2).map((word) => word[0] ?? "").join("").toUpperCase();
    item.querySelector(".deal-contact-name").textContent = name;
    const remove = item.querySelector("[data-unchoose]");
    remove.setAttribute("aria-label", `${remove.getAttribute("aria-label")} ${name}`);
    list.append(item);
  }
  const title = form.querySelector("[data-deal-title]");
  if (!title.value.trim() || title.value === title.dataset.filled) {
    const first = list.querySelector(".deal-contact-name")?.textContent ?? name;
    title.value = title.dataset.filled = first;
  }
}

function closePicker(picker) {
  picker.querySelector("[data-picker-results]").replaceChildren();
  picker.querySelector("input[type=search]").value = "";
}

document.addEventListener("click", (event) => {
  const pick = event.target.closest("[data-pick-contact]");
  if (pick) {
    const picker = pick.closest("[data-contact-picker]");
    const details = pick.closest("[data-deal-details]");
    if (details) {
      window.htmx.ajax("POST", `/deals/${details.dataset.dealId}/contacts`, {
        target: "#deal-details",
        swap: "outerHTML",
        values: { contact_id: pick.dataset.pickContact },
      });
    } else {
      choose(document.querySelector("[data-new-deal]"), pick.dataset.pickContact, pick.dataset.contactName);
      closePicker(picker);
    }
    return;
  }
  const unchoose = event.target.closest("[data-unchoose]");
  if (unchoose) unchoose.closest("li").remove();
});

function showContactError(form, field, text) {
  for (const slot of document.querySelectorAll(`[data-field-error]`)) {
    const mine = slot.dataset.fieldError === field;
    slot.hidden = !mine;
    slot.textContent = mine ? text : "";
    form.elements[slot.dataset.fieldError]?.setAttribute("aria-invalid", String(mine));
  }
}

// Enter in the picker's search box searches; it submits nothing.
document.addEventListener("submit", (event) => {
  if (event.target.matches("[data-contact-find]")) event.preventDefault();
});

// Create deal's inline New contact: made through the API, then chosen like a found one.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("[data-new-contact-form]");
  if (!form) return;
  event.preventDefault();
  const value = (name) => form.elements[name].value.trim();
  const body = { name: value("name"), phone: value("phone") || null, email: value("email") || null };
  const answer = await callApi("POST", "/api/v1/contacts", body);
  if (!answer.ok) {
    showContactError(form, answer.body.error?.field ?? "name", errorText(answer));
    return;
  }
  showContactError(form, null, "");
  for (const name of ["name", "phone", "email"]) form.elements[name].value = "";
  choose(document.querySelector("[data-new-deal]"), String(answer.body.id), answer.body.name);
  form.ownerDocument.querySelector(".new-contact").open = false;
});
