// The department picker filters by name, alias and former name; "A" accepts the suggestion.
(function () {
  const search = document.getElementById("department-search");
  const lead = document.getElementById("lead");
  const options = document.querySelectorAll("#department-options button");
  if (search && lead) {
    search.addEventListener("input", function () {
      const query = search.value.trim();
      options.forEach(function (button) {
        const match = !query || button.dataset.search.includes(query);
        button.parentElement.hidden = !match;
      });
    });
    options.forEach(function (button) {
      button.addEventListener("click", function () {
        lead.value = button.dataset.name;
        lead.focus();
      });
    });
  }
  const accept = document.getElementById("accept-form");
  document.addEventListener("keydown", function (event) {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (accept && !typing && !event.ctrlKey && !event.metaKey && event.key.toLowerCase() === "a") {
      event.preventDefault();
      accept.submit();
    }
  });
})();
