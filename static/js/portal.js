// The portal's only script: a form marked data-autosubmit (the hand-over to a payment provider
// that takes a POST) is sent at once; without JavaScript its button does the same.
document.querySelectorAll("form[data-autosubmit]").forEach((form) => form.submit());
