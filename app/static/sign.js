// Progressive enhancement of the sign form: the fields change in place when the country changes.
// Without this script the form still works: a button reloads it with the chosen country's fields.
(function () {
  "use strict";
  var form = document.getElementById("sign-form");
  var data = document.getElementById("country-rules");
  if (!form || !data) { return; }
  var rules = JSON.parse(data.textContent);
  var country = document.getElementById("country");
  var idType = document.getElementById("id_type");
  var residence = document.getElementById("residence_country");
  var ageBox = document.getElementById("age-confirm");
  var ageLabel = ageBox ? ageBox.querySelector("label") : null;
  var hint = document.getElementById("id_number-hint");

  function show(id, visible) {
    var element = document.getElementById(id);
    if (!element) { return; }
    element.hidden = !visible;
    element.disabled = !visible;
  }

  function updateDocument(rule) {
    if (!rule || rule.part !== "B") { return; }
    if (ageBox) {
      ageBox.hidden = rule.age_confirm.indexOf(idType.value) === -1;
      if (ageLabel) { ageLabel.textContent = rule.age_label; }
    }
    var input = document.getElementById("id_number");
    var text = "";
    rule.id_types.forEach(function (entry) { if (entry[0] === idType.value) { text = entry[2]; } });
    if (!hint || !input) { return; }
    hint.textContent = text;
    hint.hidden = !text;
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
      return id && id !== "id_number-hint";
    });
    if (text) { described.unshift("id_number-hint"); }
    if (described.length) { input.setAttribute("aria-describedby", described.join(" ")); }
    else { input.removeAttribute("aria-describedby"); }
  }

  function update() {
    var rule = rules[country.value];
    show("personal", !!rule);
    show("contact", !!rule);
    show("part-a", !!rule && rule.part === "A");
    show("part-b", !!rule && rule.part === "B");
    if (rule && rule.part === "A" && residence && !residence.value) {
      residence.value = country.value;  // most people live in the country of their nationality
    }
    if (rule && rule.part === "B") {
      var current = idType.value;
      while (idType.options.length) { idType.remove(0); }
      rule.id_types.forEach(function (entry) {
        var option = new Option(entry[1], entry[0]);
        option.selected = entry[0] === current;
        idType.add(option);
      });
    }
    updateDocument(rule);
  }

  Array.prototype.forEach.call(document.querySelectorAll(".js-hide"), function (el) { el.hidden = true; });
  country.addEventListener("change", update);
  if (idType) { idType.addEventListener("change", function () { updateDocument(rules[country.value]); }); }
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  if (country.value) { update(); }
})();
