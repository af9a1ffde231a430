// A photo the messenger no longer serves (an expired file, a channel without media
// downloads) shows as a labelled placeholder rather than a broken image.

document.addEventListener(
  "error",
  (event) => {
    const photo = event.target;
    if (!(photo instanceof HTMLImageElement) || !photo.matches(".bubble-photo")) return;
    const messages = photo.closest("[data-messages]");
    // at the end but for this photo's own height: a broken image grows (its icon and alt
    // text) after the conversation was scrolled to its newest message
    const below = messages.scrollHeight - messages.scrollTop - messages.clientHeight;
    const atBottom = below < photo.offsetHeight + 4;
    const note = document.createElement("p");
    note.className = "bubble-attachment bubble-photo-missing";
    note.textContent = photo.dataset.unavailable;
    photo.replaceWith(note);
    if (atBottom) messages.scrollTop = messages.scrollHeight; // the newest still shows
  },
  true, // error events do not bubble: listen on the way down
);

// A photo that loads after the conversation scrolled to its newest message (one just
// sent, say) pushes that message down: keep a reader who was at the bottom there.
document.addEventListener(
  "load",
  (event) => {
    const photo = event.target;
    if (!(photo instanceof HTMLImageElement) || !photo.matches(".bubble-photo")) return;
    const messages = photo.closest("[data-messages]");
    const before = messages.scrollHeight - photo.offsetHeight; // its height before it loaded
    if (before - messages.scrollTop - messages.clientHeight < 4) {
      messages.scrollTop = messages.scrollHeight;
    }
  },
  true, // load events do not bubble either
);
