// Search as you type on the check-in page: filters the list already on the page.
// Without JavaScript the search form still works (it reloads with ?q=).
document.addEventListener("DOMContentLoaded", () => {
  const input = document.getElementById("ci-q");
  const items = document.querySelectorAll("#check-in-list li[data-name]");
  if (!input || !items.length) return;
  input.addEventListener("input", () => {
    const needle = input.value.trim().toLowerCase();
    items.forEach((item) => {
      item.hidden = needle !== "" && !item.dataset.name.includes(needle);
    });
  });
});
