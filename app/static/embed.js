// Pages inside a partner's frame (templates/signing/_embed_page.html, embed.html): a link out of the form (the
// privacy statement, the organizers' site) opens in a new tab rather than inside the frame. Links marked
// data-in-frame (sign again) and links within the page stay where they are.
(function () {
  "use strict";
  document.querySelectorAll("a[href]").forEach(function (link) {
    if (link.hasAttribute("data-in-frame") || link.getAttribute("href").charAt(0) === "#") {
      return;
    }
    link.target = "_blank";
    link.rel = "noopener";
  });
})();
