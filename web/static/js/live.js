// Live updates for every page: one WebSocket to /ws, kept open across drops.
//
// Each event from the server is dispatched on `document` as a "funnelbox:event"
// CustomEvent whose detail is the event ({id, kind, deal_id, data, ...}); page modules
// refetch the fragments it concerns. "live.reset" (the client was gone too long to
// replay) asks them to refetch everything they show.
//
// After a drop the socket reconnects by itself, with exponential backoff and jitter
// (at once when the server says the client fell behind, and when the browser comes
// back online), sending the last event id it saw as ?after= so the server replays
// what was missed. The replay overlaps a little (ids can commit out of order across
// processes), so ids already seen are dropped here. While the socket is down, every
// [data-live-banner] element is shown ("offline, reconnecting"). When the session ends
// elsewhere (a logout, a new password, a deactivation) the server closes the socket
// with SIGNED_OUT and the page reloads, which shows the login.

const BEHIND = 4000; // the server's close code for "reconnect now and catch up"
const SIGNED_OUT = 4001; // "the session ended": reloading leads to the login page
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30000;
const REMEMBERED_IDS = 2000; // more than the replay's overlap can bring back

let lastId = null;
let attempts = 0;
let socket = null;
let retry = null;
const seen = new Set();

function remember(id) {
  seen.add(id);
  if (seen.size > REMEMBERED_IDS) seen.delete(seen.values().next().value);
}

function showBanner(offline) {
  for (const banner of document.querySelectorAll("[data-live-banner]")) banner.hidden = !offline;
}

function socketUrl() {
  const url = new URL("/ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (lastId !== null) url.searchParams.set("after", String(lastId));
  return url;
}

function receive(event) {
  if (event.kind === "live.hello") {
    // a first connect starts from now; so does a client ahead of the server (a restored
    // database), which would otherwise ask for replays after an id that never comes
    if (lastId === null || event.data.last_id < lastId) lastId = event.data.last_id;
    return;
  }
  if (event.id !== null) {
    if (seen.has(event.id)) return;
    remember(event.id);
    lastId = Math.max(lastId ?? 0, event.id);
  }
  document.dispatchEvent(new CustomEvent("funnelbox:event", { detail: event }));
}

function backoff(code) {
  if (code === BEHIND) return 0;
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempts);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function connect() {
  clearTimeout(retry);
  retry = null;
  socket = new WebSocket(socketUrl());
  socket.addEventListener("open", () => {
    attempts = 0;
    showBanner(false);
  });
  socket.addEventListener("message", (message) => receive(JSON.parse(message.data)));
  socket.addEventListener("close", (closed) => {
    socket = null;
    if (closed.code === SIGNED_OUT) {
      location.reload();
      return;
    }
    showBanner(true);
    retry = setTimeout(connect, backoff(closed.code));
    attempts += 1;
  });
}

/** Open the live socket once per page (importing the module does it). */
export function start() {
  if (socket === null && retry === null) connect();
}

// a laptop waking from sleep comes back online: try now rather than after the backoff
addEventListener("online", () => {
  if (retry !== null) connect();
});

start();
