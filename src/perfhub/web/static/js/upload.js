// The Apple Health upload with a progress bar: the file goes as the raw request body (no form
// encoding to wait for), with the page's CSRF token in the X-CSRF-Token header, and the answer
// (JSON) is shown in place. Without this script the form posts the file the ordinary way.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var input = document.getElementById("export-file");
  var box = document.getElementById("upload-progress-box");
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var button = document.getElementById("upload-button");
  if (!form || !input || !box || !bar || !status || !button || !window.XMLHttpRequest) {
    return;
  }
  var token = form.querySelector("input[name='csrf_token']");

  function megabytes(bytes) {
    return (bytes / 1048576).toLocaleString(undefined, { maximumFractionDigits: 1 }) + " MB";
  }

  function say(text, kind) {
    status.textContent = "";
    var line = document.createElement("p");
    line.className = kind || "";
    line.textContent = text;
    status.appendChild(line);
    return line;
  }

  function showResult(result) {
    say(result.sentence, result.message ? "error" : "notice");
    if (result.reasons && result.reasons.length) {
      var list = document.createElement("ul");
      list.className = "skip-reasons";
      result.reasons.forEach(function (reason) {
        var item = document.createElement("li");
        item.textContent = reason;
        list.appendChild(item);
      });
      status.appendChild(list);
    }
  }

  function problemDetail(xhr) {
    try {
      var problem = JSON.parse(xhr.responseText);
      if (problem && typeof problem.detail === "string") {
        return problem.detail.charAt(0).toUpperCase() + problem.detail.slice(1);
      }
    } catch (ignored) {
      // not JSON: a proxy's own error page
    }
    return "The server answered " + xhr.status + ".";
  }

  function showError(xhr) {
    var lead = {
      403: "The page has expired: reload it and upload again.",
      413: "That file is too large to upload here.",
      422: "That file could not be imported.",
    }[xhr.status] || "The upload failed.";
    var detail = xhr.status === 403 ? "" : " " + problemDetail(xhr);
    say(lead + detail, "error");
  }

  form.addEventListener("submit", function (event) {
    var file = input.files && input.files[0];
    if (!file) {
      return; // the browser says the field is required
    }
    event.preventDefault();
    var limit = Number(form.getAttribute("data-max-bytes"));
    if (limit && file.size > limit) {
      say("That file is " + megabytes(file.size) + "; the limit here is " + megabytes(limit) +
        ". Upload export.zip as the Health app makes it: export.xml alone is many times bigger.", "error");
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", token ? token.value : "");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    button.disabled = true;
    box.hidden = false;
    bar.max = file.size || 1;
    bar.value = 0;
    say("Uploading " + file.name + " (" + megabytes(file.size) + ")…");

    xhr.upload.addEventListener("progress", function (progress) {
      if (progress.lengthComputable) {
        bar.max = progress.total || 1;
        bar.value = progress.loaded;
      }
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = bar.max;
      say("Importing… reading a large export takes a minute or two.");
    });
    xhr.addEventListener("load", function () {
      button.disabled = false;
      if (xhr.status === 201) {
        bar.value = bar.max;
        try {
          showResult(JSON.parse(xhr.responseText));
        } catch (ignored) {
          say("The export was imported, but the answer could not be read. Reload the page.", "error");
        }
      } else {
        showError(xhr);
      }
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      say("The upload did not reach the server. Check your connection and try again.", "error");
    });
    xhr.send(file);
  });
})();
