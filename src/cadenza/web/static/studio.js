// The studio's tabs (plain JS; the forms themselves are HTMX).
document.addEventListener("DOMContentLoaded", () => {
  const tabs = document.querySelectorAll(".tab");
  tabs.forEach((tab) => tab.addEventListener("click", () => {
    tabs.forEach((t) => t.classList.toggle("active", t === tab));
    document.querySelectorAll(".panel").forEach((panel) => {
      panel.hidden = panel.id !== "tab-" + tab.dataset.tab;
    });
  }));
});
