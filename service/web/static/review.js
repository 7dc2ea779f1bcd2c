// Keyboard and pickers of the reviewers' pages.
//   Queue: J/K move to the next/previous row, Enter opens it, "/" focuses the search.
//   Item:  A accepts (the lead only, when the model also suggests co-departments), J/K open the next/previous
//          item of the queue, "/" focuses the search. The department pickers filter by name, alias and former name;
//          typing a 编号 in the 并案 form chooses "other proposal".
(function () {
  function filter(input, items) {
    input.addEventListener("input", function () {
      const query = input.value.trim();
      items.forEach(function (item) {
        item.hidden = Boolean(query) && !item.dataset.search.includes(query);
      });
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault(); // filtering, not submitting the form
    });
  }

  const search = document.getElementById("department-search");
  const lead = document.getElementById("lead");
  const options = document.querySelectorAll("#department-options button");
  if (search && lead) {
    filter(search, Array.from(options).map(function (b) { b.parentElement.dataset.search = b.dataset.search; return b.parentElement; }));
    options.forEach(function (button) {
      button.addEventListener("click", function () {
        lead.value = button.dataset.name;
        lead.focus();
      });
    });
  }
  const mergeOther = document.getElementById("merge-other");
  const otherChoice = document.querySelector('#merge-form input[name="merge_into"][value="other"]');
  if (mergeOther && otherChoice) {
    mergeOther.addEventListener("input", function () { if (mergeOther.value.trim()) otherChoice.checked = true; });
  }
  const coSearch = document.getElementById("co-search");
  if (coSearch) filter(coSearch, Array.from(document.querySelectorAll("#co-options li")));

  const rows = Array.from(document.querySelectorAll("table.queue tbody tr"));
  let current = -1;
  function select(index) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) { row.classList.toggle("selected", i === current); });
    const link = rows[current].querySelector("a");
    if (link) link.focus();
  }
  function go(id) {
    const link = document.getElementById(id);
    if (link) window.location.href = link.href;
  }

  const accept = document.getElementById("accept");
  document.addEventListener("keydown", function (event) {
    const active = document.activeElement;
    const typing = active && (["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName) || active.isContentEditable);
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (key === "/") {
      const q = document.getElementById("q");
      if (q) { event.preventDefault(); q.focus(); q.select(); }
    } else if (key === "a" || key === "A") {
      if (accept) { event.preventDefault(); accept.click(); }
    } else if (key === "j" || key === "J") {
      event.preventDefault();
      if (rows.length) select(current + 1); else go("next");
    } else if (key === "k" || key === "K") {
      event.preventDefault();
      if (rows.length) select(current - 1); else go("previous");
    }
  });
})();
