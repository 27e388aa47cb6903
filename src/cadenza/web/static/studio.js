// The studio's tabs and the regenerate button (plain JS; the forms themselves are HTMX).
document.addEventListener("DOMContentLoaded", () => {
  const tabs = document.querySelectorAll(".tab");
  tabs.forEach((tab) => tab.addEventListener("click", () => {
    tabs.forEach((t) => t.classList.toggle("active", t === tab));
    document.querySelectorAll(".panel").forEach((panel) => {
      panel.hidden = panel.id !== "tab-" + tab.dataset.tab;
    });
  }));
  // "Regenerate": the same settings with the next seed, from the form that made the piece
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.regenerate");
    if (!button) return;
    const form = document.querySelector(`#tab-${button.dataset.task} form`);
    const seed = form.querySelector("input[name=seed]");
    seed.value = String(Number(seed.value || 0) + 1);
    form.requestSubmit();
  });
});
