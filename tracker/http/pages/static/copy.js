// Copy buttons: <button data-copy="ID" data-done="Copied"> copies the value of the field ID.
// Without JavaScript the buttons stay hidden and the field (read-only, selectable) is enough.
(function () {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById(button.dataset.copy + "-status");
    if (!field) continue;
    button.hidden = false;
    button.addEventListener("click", async function () {
      let copied = false;
      try {
        await navigator.clipboard.writeText(field.value);
        copied = true;
      } catch (error) {
        field.focus();
        field.select();
        copied = document.execCommand && document.execCommand("copy");
      }
      if (status) status.textContent = copied ? button.dataset.done : button.dataset.failed;
    });
  }
})();
