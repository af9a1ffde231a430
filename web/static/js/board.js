// The pipeline board: drag a card to another stage and it is saved at once.
//
// A drop posts to POST /api/v1/deals/{id}/move (the one move service, so the stage's
// triggers fire as for any move); a drop on Lost first asks for the lost reason. A refused
// move puts the card back where it was and says why. After a move, and whenever the live
// socket brings a deal event (someone else's move, a new deal from a channel, an
// automation), the board is fetched again, so both columns' counts and totals are the
// server's. Columns load their next cards when their end scrolls into view (htmx).

import { callApi, errorText } from "./http.js";

const LIVE_KINDS = /^(deal\.|message\.received$)/;
let dragging = false;
let stale = false; // an event came while a card was held: refetch after the drop
let refetch = null;
let refreshing = false;
let again = false;

const board = () => document.querySelector("[data-board]");

function toast(text) {
  const element = document.querySelector("[data-toast]");
  if (!element) return;
  element.textContent = text;
  element.hidden = false;
  clearTimeout(element.hideLater);
  element.hideLater = setTimeout(() => { element.hidden = true; }, 6000);
}

/** Where the board and each column are scrolled to, so a refetch leaves the reader there
 * (a column's cards loaded on scroll come back as its first page). */
function scrollPositions() {
  const columns = {};
  for (const list of document.querySelectorAll("[data-board] [data-cards]")) {
    columns[list.dataset.stageId] = list.scrollTop;
  }
  return { left: board()?.scrollLeft ?? 0, columns };
}

function restoreScroll({ left, columns }) {
  const element = board();
  if (!element) return;
  element.scrollLeft = left;
  for (const list of element.querySelectorAll("[data-cards]")) {
    list.scrollTop = columns[list.dataset.stageId] ?? 0;
  }
}

/** Fetch the board again (same filters), one fetch at a time; a request made while one
 * is in flight runs once it is done. */
async function refresh() {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = true;
  do {
    again = false;
    const scrolled = scrollPositions();
    await window.htmx.ajax("GET", location.pathname + location.search, {
      source: "[data-board]",
      target: "[data-board]",
      select: "[data-board]",
      swap: "outerHTML",
    });
    restoreScroll(scrolled);
  } while (again);
  refreshing = false;
}

/** Ask for the lost reason; resolves to {id} (null id: none given), or null if cancelled. */
function askLostReason() {
  const dialog = document.querySelector("[data-lost-dialog]");
  dialog.querySelector("select").value = "";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      if (dialog.returnValue !== "lost") return resolve(null);
      const picked = dialog.querySelector("select").value;
      resolve({ id: picked ? Number(picked) : null });
    }, { once: true });
  });
}

function putBack(item, from, oldIndex) {
  from.insertBefore(item, from.children[oldIndex] ?? null);
}

async function dropped(event) {
  dragging = false;
  const { item, from, to, oldIndex } = event;
  if (from === to) return;
  const column = to.closest("[data-stage-kind]");
  let reason = null;
  if (column.dataset.stageKind === "lost") {
    const answer = await askLostReason();
    if (answer === null) {
      putBack(item, from, oldIndex);
      return;
    }
    reason = answer.id;
  }
  const body = { stage_id: Number(column.dataset.stageId) };
  if (reason !== null) body.lost_reason_id = reason;
  const answer = await callApi("POST", `/api/v1/deals/${item.dataset.dealId}/move`, body);
  if (!answer.ok) {
    putBack(item, from, oldIndex);
    toast(errorText(answer));
  }
  refresh();
}

/** Make every column of the board a drop target (again after each swap). */
function bind() {
  for (const list of document.querySelectorAll("[data-board] [data-cards]")) {
    if (list.sortable) continue;
    list.sortable = window.Sortable.create(list, {
      group: "deals",
      sort: false, // a column is newest first; only the stage is the user's to change
      draggable: ".deal-card",
      animation: 120,
      ghostClass: "is-placeholder",
      forceFallback: true, // the same mouse-driven drag in every browser and in tests
      fallbackOnBody: true,
      onStart: () => { dragging = true; },
      onEnd: dropped,
    });
  }
}

document.addEventListener("DOMContentLoaded", bind);
document.addEventListener("htmx:afterSettle", bind);

document.addEventListener("funnelbox:event", (event) => {
  if (!board()) return;
  const { kind } = event.detail;
  if (kind !== "live.reset" && !LIVE_KINDS.test(kind)) return;
  if (dragging) {
    stale = true;
    return;
  }
  clearTimeout(refetch); // a burst of events is one fetch
  refetch = setTimeout(refresh, 100);
});

document.addEventListener("pointerup", () => {
  if (!stale) return;
  stale = false;
  setTimeout(refresh, 100);
});
