// A photo the messenger no longer serves (an expired file, a channel without media
// downloads) shows as a labelled placeholder rather than a broken image.

document.addEventListener(
  "error",
  (event) => {
    const photo = event.target;
    if (!(photo instanceof HTMLImageElement) || !photo.matches(".bubble-photo")) return;
    const note = document.createElement("p");
    note.className = "bubble-attachment bubble-photo-missing";
    note.textContent = photo.dataset.unavailable;
    photo.replaceWith(note);
  },
  true, // error events do not bubble: listen on the way down
);
