// Keyboard shortcuts: elements with data-shortcut="k" are clicked (or focused) when the key is
// pressed outside a text field. "?" shows the list when a #shortcut-help element exists.
document.addEventListener("keydown", function (event) {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target.closest("input, textarea, select, [contenteditable]")) return;
  const el = document.querySelector('[data-shortcut="' + CSS.escape(event.key) + '"]');
  if (!el) return;
  event.preventDefault();
  if (el.matches("input, textarea, select")) { el.focus(); } else { el.click(); }
});

// Destructive actions: a form with data-confirm="…" asks before it is submitted.
document.addEventListener("submit", function (event) {
  const form = event.target;
  const question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// Progress bars take their width from data-progress (no inline styles under the CSP).
function applyProgress(root) {
  root.querySelectorAll("[data-progress]").forEach(function (bar) {
    bar.style.width = bar.dataset.progress + "%";
  });
}
applyProgress(document);
document.body.addEventListener("htmx:load", function (event) { applyProgress(event.detail.elt.parentNode || document); });

// <select data-autosubmit> submits its form when changed; <input data-check-all="name"> ticks
// or clears every checkbox of that name (no inline handlers under the CSP).
document.addEventListener("change", function (event) {
  const el = event.target;
  if (el.matches("select[data-autosubmit]") && el.form) el.form.submit();
  if (el.matches("input[data-check-all]")) {
    document.querySelectorAll('input[name="' + CSS.escape(el.dataset.checkAll) + '"]').forEach(function (box) { box.checked = el.checked; });
  }
});
