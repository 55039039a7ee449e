// Opening an action tab (by click or shortcut) puts the cursor in its first field, so a whole
// action can be done from the keyboard.
function focusFirstField(pane) {
  const field = pane && (pane.querySelector(".is-invalid") || pane.querySelector("input:not([type=hidden]), select, textarea"));
  if (field) field.focus();
}
document.addEventListener("shown.bs.tab", function (event) {
  const pane = document.querySelector(event.target.dataset.bsTarget);
  // A form not loaded yet loads now, even when its pane is scrolled out of view (a shortcut
  // pressed further down the page): its htmx:load then puts the cursor in it.
  const loader = pane && pane.querySelector("[hx-get][hx-trigger*='open-pane']");
  if (loader && window.htmx) window.htmx.trigger(loader, "open-pane");
  focusFirstField(pane);
});
// A form loaded on first opening of its tab, or sent back with errors, gets the cursor too.
document.body.addEventListener("htmx:load", function (event) {
  const elt = event.detail.elt;
  const pane = elt.id && elt.id.startsWith("form-") && elt.closest(".tab-pane.active");
  if (pane) focusFirstField(pane);
});
