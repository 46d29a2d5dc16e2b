// The public registration form: preselect the browser's own timezone when the list has it.
(function () {
  var select = document.getElementById("timezone");
  if (!select || select.dataset.guess !== "yes") return;
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) { select.value = zone; return; }
  }
})();
