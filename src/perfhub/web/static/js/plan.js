// The plan pages: Accept and Revert update their session in place (htmx posts the form, follows
// the redirect back to the page and swaps in that session's new card), then move the focus to the
// card's status so that a keyboard or screen-reader user hears what changed and keeps their place.
// Without this script or htmx the forms post the ordinary way and the page reloads at the session.
(function () {
  "use strict";
  if (!window.htmx) {
    return;
  }
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var card = event.detail.target;
    if (!card || !card.id || !document.getElementById(card.id)) {
      return;
    }
    var fresh = document.getElementById(card.id);
    // The adjustment's heading says where it now stands ("Readiness adjustment: Accepted").
    var heading = fresh.querySelector("h4[tabindex]") || fresh.querySelector("h3[tabindex]");
    if (heading) {
      heading.focus();
    }
  });
  // A refused or failed post (an expired page, a session gone): post the form the ordinary way,
  // so the browser shows the page that says why.
  document.body.addEventListener("htmx:responseError", function (event) {
    var form = event.detail.elt;
    if (form && form.tagName === "FORM" && form.hasAttribute("data-plan-decision")) {
      form.removeAttribute("hx-post");
      HTMLFormElement.prototype.submit.call(form);
    }
  });
})();
