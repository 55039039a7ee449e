// Character counters: every <textarea maxlength> (and <input data-counter maxlength>) gets a line
// under it saying how many characters are left, and a clear message once the limit is reached,
// so a pasted text the browser cuts at the limit is never cut silently. The words come from this
// script tag's data attributes, translated by the template ("{n}" stands for the number).
(function () {
  const script = document.currentScript;
  const words = {
    left: script.dataset.left || "{n} characters left",
    one: script.dataset.leftOne || "1 character left",
    full: script.dataset.full || "Limit of {n} characters reached: anything beyond it is not added.",
  };
  const numbers = new Intl.NumberFormat(document.documentElement.lang || undefined);

  function say(template, n) { return template.replace("{n}", numbers.format(n)); }

  function update(field, counter) {
    const limit = parseInt(field.getAttribute("maxlength"), 10);
    const left = limit - field.value.length;
    counter.textContent = left <= 0 ? say(words.full, limit) : left === 1 ? words.one : say(words.left, left);
    counter.classList.toggle("text-danger", left <= 0);
    counter.classList.toggle("fw-semibold", left <= 0);
    counter.classList.toggle("text-secondary", left > 0);
  }

  function attach(root) {
    root.querySelectorAll("textarea[maxlength], input[data-counter][maxlength]").forEach(function (field) {
      if (field.dataset.counted) return;
      field.dataset.counted = "1";
      const counter = document.createElement("div");
      counter.className = "form-text char-counter";
      counter.setAttribute("aria-live", "polite");
      counter.id = (field.id || field.name) + "-counter";
      field.setAttribute("aria-describedby", ((field.getAttribute("aria-describedby") || "") + " " + counter.id).trim());
      field.insertAdjacentElement("afterend", counter);
      update(field, counter);
      field.addEventListener("input", function () { update(field, counter); });
    });
  }

  attach(document);
  document.body.addEventListener("htmx:load", function (event) { attach(event.detail.elt.parentNode || document); });
})();
