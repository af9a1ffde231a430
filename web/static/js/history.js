// Paging that must not jump: "earlier messages" puts older ones above without moving what
// the reader looks at, and the dialog search keeps its words in the address (?q=).

let pending = null; // what the "earlier" swap under way must keep

document.addEventListener("htmx:beforeSwap", (event) => {
  const earlier = event.detail.elt.closest?.("[data-earlier]");
  if (!earlier) return;
  const messages = earlier.closest("[data-messages]");
  const fromBottom = messages.scrollHeight - messages.scrollTop;
  pending = { messages, fromBottom, next: earlier.nextElementSibling };
});

// (htmx fires this once per swapped-in element: the first one does the work)
document.addEventListener("htmx:afterSwap", () => {
  const kept = pending;
  if (!kept) return;
  pending = null;
  dropRepeatedDay(kept.next);
  kept.messages.scrollTop = kept.messages.scrollHeight - kept.fromBottom;
});

/** The newer batch opens with a day separator; drop it when the older batch ends that day. */
function dropRepeatedDay(next) {
  if (!next?.matches(".day-separator")) return;
  let before = next.previousElementSibling;
  while (before && !before.matches(".day-separator")) before = before.previousElementSibling;
  if (before?.dataset.day === next.dataset.day) next.remove();
}

// The search's words go in the address, so a reload or a shared link shows the same list.
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt.closest?.("[data-dialog-search]");
  if (!form || !event.detail.successful) return;
  const url = new URL(window.location.href);
  const q = currentSearch();
  if (q) url.searchParams.set("q", q);
  else url.searchParams.delete("q");
  window.history.replaceState(window.history.state, "", url);
});

/** The search in effect, for the live refresh to fetch the same list. */
export const currentSearch = () =>
  document.querySelector("[data-dialog-search] input[name=q]")?.value.trim() ?? "";
