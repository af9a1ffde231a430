// The deal list: tick deals (or every deal on the page) and delete them after a
// confirmation that says deleted deals cannot be recovered. The form posts the ticked ids;
// the server deletes all or nothing.

const form = () => document.querySelector("[data-bulk-form]");
const boxes = () => [...form().querySelectorAll('input[name="ids"]')];

function update() {
  const ticked = boxes().filter((box) => box.checked).length;
  const button = form().querySelector("[data-bulk-delete]");
  button.disabled = ticked === 0;
  button.querySelector("[data-selected-count]").textContent = ticked ? `(${ticked})` : "";
  const all = form().querySelector("[data-select-all]");
  if (all) {
    all.checked = ticked > 0 && ticked === boxes().length;
    all.indeterminate = ticked > 0 && ticked < boxes().length;
  }
}

function confirmDelete() {
  const dialog = document.querySelector("[data-confirm-dialog]");
  const ticked = boxes().filter((box) => box.checked).length;
  const title = dialog.querySelector("[data-confirm-title]");
  title.textContent = title.dataset.template.replace("{count}", String(ticked));
  dialog.returnValue = "";
  dialog.showModal();
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "delete") form().submit();
  }, { once: true });
}

document.addEventListener("change", (event) => {
  if (!form()?.contains(event.target)) return;
  if (event.target.matches("[data-select-all]")) {
    for (const box of boxes()) box.checked = event.target.checked;
  }
  update();
});

document.addEventListener("click", (event) => {
  if (event.target.closest("[data-bulk-delete]")) confirmDelete();
});

document.addEventListener("DOMContentLoaded", () => {
  if (form()) update();
});
