// The Copy button beside a read-only address: copy it, and say so.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) {
      return;
    }
    var field = document.getElementById(button.dataset.copy);
    var label = button.textContent;
    field.select();
    var done = function () {
      button.textContent = button.dataset.copiedText || label;
      window.setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      // Served over plain HTTP on a local network, the clipboard API is off.
      document.execCommand("copy");
      done();
    }
  });
})();
