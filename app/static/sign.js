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
  var ageBox = document.getElementById("age-confirm");
  var ageLabel = ageBox ? ageBox.querySelector("label") : null;

  function show(id, visible) {
    var element = document.getElementById(id);
    if (!element) { return; }
    element.hidden = !visible;
    element.disabled = !visible;
  }

  function updateAge(rule) {
    if (!ageBox || !rule) { return; }
    var needed = rule.part === "B" && rule.age_confirm.indexOf(idType.value) !== -1;
    ageBox.hidden = !needed;
    if (ageLabel) { ageLabel.textContent = rule.age_label; }
  }

  function update() {
    var rule = rules[country.value];
    show("personal", !!rule);
    show("contact", !!rule);
    show("part-a", !!rule && rule.part === "A");
    show("part-b", !!rule && rule.part === "B");
    if (rule && rule.part === "B") {
      var current = idType.value;
      while (idType.options.length) { idType.remove(0); }
      rule.id_types.forEach(function (pair) {
        var option = new Option(pair[1], pair[0]);
        option.selected = pair[0] === current;
        idType.add(option);
      });
    }
    updateAge(rule);
  }

  Array.prototype.forEach.call(document.querySelectorAll(".js-hide"), function (el) { el.hidden = true; });
  country.addEventListener("change", update);
  if (idType) { idType.addEventListener("change", function () { updateAge(rules[country.value]); }); }
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  if (country.value) { update(); }
})();
