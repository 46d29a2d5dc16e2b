// Live preview of a series' next occurrences while the organiser types (no build step).
(function () {
  const form = document.getElementById("series-form");
  const list = document.getElementById("preview");
  if (!form || !list) return;
  let timer = null;
  async function refresh() {
    const data = new URLSearchParams(new FormData(form));
    data.delete("csrf");
    const response = await fetch("/organizer/preview?" + data.toString(), { credentials: "same-origin" });
    list.innerHTML = "";
    const body = await response.json();
    for (const line of body.lines) {
      const item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    }
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
  refresh();
})();
