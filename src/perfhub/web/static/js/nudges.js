// The sleep-debt switch saves as soon as it changes (htmx posts the form, with the CSRF token in
// the X-CSRF-Token header from hx-headers). Without this script or htmx the form's Save button
// posts it the ordinary way.
(function () {
  "use strict";
  var form = document.getElementById("nudge-preferences");
  var status = document.getElementById("nudge-status");
  var box = document.getElementById("sleep-debt");
  var save = document.getElementById("nudge-save");
  if (!form || !status || !box || !window.htmx) {
    return;
  }
  // The switch saves itself; the button would only repeat it.
  if (save) {
    save.hidden = true;
  }
  var confirmed = box.checked;

  form.addEventListener("htmx:beforeRequest", function () {
    status.textContent = "Saving…";
  });
  form.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) {
      confirmed = box.checked;
      return;
    }
    // Not saved: the box goes back to what is stored, and the status says why.
    box.checked = confirmed;
    var xhr = event.detail.xhr;
    var why = "the connection failed";
    if (xhr && xhr.status === 403) {
      why = "the page has expired — reload it and try again";
    } else if (xhr && xhr.status) {
      why = "the server answered " + xhr.status;
    }
    status.textContent = "Not saved: " + why + ". " +
      (confirmed ? "Sleep-debt nudges are still on." : "Sleep-debt nudges are still off.");
  });
})();
