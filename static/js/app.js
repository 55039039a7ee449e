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
