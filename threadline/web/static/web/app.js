// Keyboard shortcuts: "/" focuses the search box, "L" the quick-log form.
(function () {
  "use strict";

  function typing(target) {
    var tag = target.tagName;
    return target.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" ||
      tag === "SELECT";
  }

  function focusField(id) {
    var field = document.getElementById(id);
    if (!field) {
      return false;
    }
    field.focus();
    field.scrollIntoView({ block: "center", behavior: "smooth" });
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    if (event.key === "/" && focusField("global-search")) {
      event.preventDefault();
    } else if ((event.key === "l" || event.key === "L") && focusField("id_summary")) {
      event.preventDefault();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && event.target.id === "global-search") {
      event.target.blur();
    }
  });

  // A link that jumps to a form also puts the cursor in its first field.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-focus]");
    if (link && focusField(link.dataset.focus)) {
      event.preventDefault();
    }
  });

  // Close an entry's correction panel that htmx loaded inline.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-close-tools]");
    if (button) {
      button.closest(".event-tools-slot").replaceChildren();
    }
  });
})();
