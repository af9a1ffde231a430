// Paging that must not jump: "earlier messages" puts older ones above without moving what
// the reader looks at, and the dialog search keeps its words in the address (?q=).

const pending = new WeakMap(); // "earlier" button -> what its swap must keep

/** Whether an htmx event is one "earlier messages" made (settle then keeps the scroll). */
export const isEarlier = (event) => Boolean(event?.detail?.elt?.closest?.("[data-earlier]"));

document.addEventListener("htmx:beforeSwap", (event) => {
  if (!isEarlier(event)) return;
  const earlier = event.detail.elt.closest("[data-earlier]");
  const messages = earlier.closest("[data-messages]");
  const fromBottom = messages.scrollHeight - messages.scrollTop;
  pending.set(event.detail.elt, { messages, fromBottom, next: earlier.nextElementSibling });
});

document.addEventListener("htmx:afterSwap", (event) => {
  const kept = pending.get(event.detail.elt);
  if (!kept) return;
  pending.delete(event.detail.elt);
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
