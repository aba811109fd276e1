// Copy the page's link with one click. Without this script the link stands in a read-only field to copy by hand.
(function () {
  "use strict";
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentNode.parentNode.querySelector(".copy-status");
    if (!field) { return; }
    button.hidden = false;
    function say(text) { if (status) { status.textContent = text; } }
    button.addEventListener("click", function () {
      field.select();
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(
          function () { say(button.getAttribute("data-copied")); },
          function () { say(button.getAttribute("data-failed")); }
        );
      } else {
        say(button.getAttribute("data-failed"));
      }
    });
  });
})();
