// The reply box's two extras: the Reply/Note switch, and canned replies picked with "/".
//
// Typing "/" at the start of an empty box opens the list of canned replies, filtered by
// what follows (shortcut or title); arrows move, Enter or a click picks, Esc closes. The
// picked reply is filled in for this dialog's contact by the server and put in the box,
// to be edited and sent like anything typed.

import { callApi, errorText } from "./http.js";

let replies = null; // the canned replies, fetched on the first "/" of the page

function setMode(form) {
  const note = form.elements.mode.value === "note";
  form.classList.toggle("is-note", note);
  form.elements.text.placeholder = note ? form.dataset.notePlaceholder : form.dataset.replyPlaceholder;
  form.querySelector("[data-reply-submit] span").textContent = note
    ? form.dataset.noteLabel
    : form.dataset.replyLabel;
}

document.addEventListener("change", (event) => {
  if (event.target.name === "mode" && event.target.form?.matches("[data-reply-form]")) {
    setMode(event.target.form);
  }
});

const popupOf = (box) => box.form.querySelector("[data-canned-popup]");

function close(box) {
  popupOf(box).hidden = true;
  box.setAttribute("aria-expanded", "false");
  box.removeAttribute("aria-activedescendant");
}

function option(reply, index) {
  const item = document.createElement("li");
  item.id = `canned-option-${reply.id}`;
  item.setAttribute("role", "option");
  item.setAttribute("aria-selected", String(index === 0));
  item.dataset.replyId = reply.id;
  const shortcut = document.createElement("span");
  shortcut.className = "canned-shortcut";
  shortcut.textContent = `/${reply.shortcut}`;
  const title = document.createElement("span");
  title.className = "canned-title";
  title.textContent = reply.title;
  item.append(shortcut, title);
  return item;
}

async function show(box, query) {
  if (replies === null) {
    const answer = await callApi("GET", "/api/v1/canned-replies");
    replies = answer.ok ? answer.body : [];
  }
  const popup = popupOf(box);
  const wanted = query.toLowerCase();
  const found = replies.filter(
    (r) => r.shortcut.startsWith(wanted) || r.title.toLowerCase().includes(wanted),
  );
  popup.replaceChildren(...found.map(option));
  if (!found.length) {
    const empty = document.createElement("li");
    empty.className = "muted";
    empty.textContent = replies.length ? popup.dataset.noMatch : popup.dataset.none;
    popup.append(empty);
  }
  popup.hidden = false;
  box.setAttribute("aria-expanded", "true");
  mark(box, popup.querySelector("[role=option]"));
}

function mark(box, item) {
  const popup = popupOf(box);
  for (const each of popup.querySelectorAll("[role=option]")) {
    each.setAttribute("aria-selected", String(each === item));
  }
  if (item) {
    box.setAttribute("aria-activedescendant", item.id);
    item.scrollIntoView({ block: "nearest" });
  }
}

async function pick(box, item) {
  close(box);
  const form = box.form;
  const error = form.querySelector("[data-reply-error]");
  const path = `/api/v1/dialogs/${form.dataset.dialogId}/canned-replies/${item.dataset.replyId}/render`;
  const answer = await callApi("POST", path);
  if (!answer.ok) {
    error.textContent = errorText(answer);
    error.hidden = false;
    return;
  }
  error.hidden = true;
  box.value = answer.body.text;
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}

const slashQuery = (box) => /^\/(\S*)$/.exec(box.value)?.[1];

document.addEventListener("input", (event) => {
  const box = event.target.closest?.("[data-reply-form] textarea");
  if (!box) return;
  const query = slashQuery(box);
  if (query === undefined) close(box);
  else show(box, query);
});

// Capture phase: while the list is open, Enter picks instead of sending the reply.
document.addEventListener(
  "keydown",
  (event) => {
    const box = event.target.closest?.("[data-reply-form] textarea");
    if (!box || popupOf(box).hidden) return;
    const options = [...popupOf(box).querySelectorAll("[role=option]")];
    const current = options.findIndex((o) => o.getAttribute("aria-selected") === "true");
    if (event.key === "Escape") close(box);
    else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      mark(box, options[(current + step + options.length) % options.length]);
    } else if (event.key === "Enter" && !event.shiftKey) {
      if (options[current]) pick(box, options[current]);
      else close(box);
    } else return;
    event.preventDefault();
    event.stopPropagation();
  },
  true,
);

document.addEventListener("mousedown", (event) => {
  const item = event.target.closest("[data-canned-popup] [role=option]");
  if (!item) return;
  event.preventDefault(); // keep the focus in the box
  pick(item.closest("form").elements.text, item);
});
