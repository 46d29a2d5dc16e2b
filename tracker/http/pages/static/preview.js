// The series form: show only the recurrence fields the chosen pattern uses, and preview the
// next occurrences and the rule the server will write while the organiser types (no build
// step). Without JavaScript every field shows and the server builds the rule alike.
(function () {
  const form = document.getElementById("series-form");
  const list = document.getElementById("preview");
  if (!form || !list) return;
  const made = document.getElementById("rule-made");
  let timer = null;
  function toggle() {
    const repeat = (form.elements.namedItem("repeat") || {}).value || "";
    const ends = (form.elements.namedItem("ends") || {}).value || "";
    for (const part of form.querySelectorAll("[data-for]")) {
      part.hidden = !part.dataset.for.split(" ").includes(repeat);
    }
    for (const part of form.querySelectorAll("[data-ends]")) {
      part.hidden = part.dataset.ends !== ends;
    }
    const advanced = document.getElementById("advanced");
    if (advanced && repeat === "custom") advanced.open = true;
  }
  async function refresh() {
    const data = new URLSearchParams(new FormData(form));
    data.delete("csrf");
    const response = await fetch("/organizer/preview?" + data.toString(), { credentials: "same-origin" });
    if (!response.ok) return;
    const body = await response.json();
    list.innerHTML = "";
    for (const line of body.lines) {
      const item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    }
    if (made) made.textContent = body.rule || "—";
  }
  function changed() {
    toggle();
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  toggle();
  refresh();
})();
