// Each team's switches save as soon as one changes (htmx posts the team's form with the CSRF
// token in X-CSRF-Token, and puts the server's confirmation into the team's status region).
// Without this script or htmx, each form's Save button posts it the ordinary way.
(function () {
  "use strict";
  if (!window.htmx) {
    return;
  }
  var forms = document.querySelectorAll("form[data-sharing-form]");
  Array.prototype.forEach.call(forms, function (form) {
    var status = document.getElementById(form.getAttribute("data-status"));
    var boxes = form.querySelectorAll("input[type=checkbox]");
    var save = form.querySelector("[data-save]");
    if (!status) {
      return;
    }
    // The switches save themselves; the button would only repeat it.
    if (save) {
      save.hidden = true;
    }
    var confirmed = Array.prototype.map.call(boxes, function (box) { return box.checked; });

    form.addEventListener("htmx:beforeRequest", function () {
      status.textContent = "Saving…";
    });
    form.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.successful) {
        confirmed = Array.prototype.map.call(boxes, function (box) { return box.checked; });
        return;
      }
      // Not saved: the switches go back to what is stored, and the status says why.
      Array.prototype.forEach.call(boxes, function (box, i) { box.checked = confirmed[i]; });
      var xhr = event.detail.xhr;
      var why = "the connection failed";
      if (xhr && xhr.status === 403) {
        why = "the page has expired — reload it and try again";
      } else if (xhr && xhr.status === 404) {
        why = "you are no longer in this team — reload the page";
      } else if (xhr && xhr.status) {
        why = "the server answered " + xhr.status;
      }
      status.textContent = "Not saved: " + why + ". The switches show what the team still sees.";
    });
  });
})();
