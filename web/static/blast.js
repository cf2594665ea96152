// Blast Email's pages. A new blast finds plans and contacts as their name is typed
// (clients with Find); a blast's progress bar, counts and recipients' statuses
// follow the sending without a reload, until every message is sent or failed; then
// the summary shows, with Retry beside each failed recipient. The pages work
// without this script: Find and a reload do the same. A module: its names are its
// own, apart from slider.js's.

const csrfToken = () =>
  document.querySelector('meta[name="csrf-token"]')?.content ?? "";

async function getJson(url) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error?.message ?? `The server answered ${response.status}.`);
  return body;
}

// -- a new blast: search as you type ---------------------------------------------

/** What the API's search finds for each "Send to"; clients are found with Find. */
const SEARCHED = { plan: "plan", hand: "contact" };

let searchTimer;
let searchSeq = 0;

async function searchAsTyped(input) {
  const form = input.form;
  const found = form.querySelector("[data-blast-found]");
  const list = found.querySelector("[data-blast-results]");
  const status = found.querySelector("[data-blast-status]");
  const kind = SEARCHED[form.querySelector("input[name=audience]:checked")?.value];
  const text = input.value.trim();
  const seq = ++searchSeq;
  if (!kind || !text) return;  // Find does the rest
  let results;
  try {
    results = (await getJson(`/api/v1/search?${new URLSearchParams({ types: kind, q: text })}`)).results;
  } catch (error) {
    if (seq === searchSeq) status.textContent = error.message;
    return;
  }
  if (seq !== searchSeq) return;  // a newer search is on its way
  list.replaceChildren(...results.map((result) => {
    const button = document.createElement("button");
    button.type = "submit";
    button.name = "choose";
    button.value = `${result.record_type}:${result.record_id}`;
    button.textContent = result.name;
    if (result.detail) {
      const detail = document.createElement("span");
      detail.className = "muted";
      detail.textContent = ` (${result.detail})`;
      button.append(detail);
    }
    const item = document.createElement("li");
    item.append(button);
    return item;
  }));
  status.textContent = results.length ? `${results.length} found.` : `Nothing found for “${text}”.`;
  found.hidden = false;
}

document.addEventListener("input", (event) => {
  if (!event.target.matches("[data-blast-search]")) return;
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => searchAsTyped(event.target), 200);
});

// -- a blast's page: its progress ------------------------------------------------

const readBlast = (id) => getJson(`/api/v1/blasts/${id}`);

function showBlast(section, blast) {
  const done = blast.sent + blast.failed;
  const text = (selector, value) => {
    const element = section.querySelector(selector);
    if (element && element.textContent !== String(value)) element.textContent = value;
  };
  section.querySelector("[data-bar]").value = done;
  text("[data-done]", done);
  text("[data-sent]", blast.sent);
  text("[data-failed]", blast.failed);
  text("[data-waiting]", blast.waiting);
  for (const recipient of blast.recipients) {
    const row = document.querySelector(`[data-recipient="${recipient.id}"]`);
    if (!row) continue;
    row.querySelector("[data-label]").textContent = recipient.label;
    row.querySelector("[data-reason]").textContent = recipient.reason;
    const retry = row.querySelector("[data-retry]");
    if (retry) retry.hidden = !recipient.can_retry;
  }
  if (blast.is_finished) {
    text("[data-summary-text]", `${blast.sent} sent, ${blast.failed} failed.`);
    section.querySelector("[data-summary]").hidden = false;
  }
}

async function followBlast(section) {
  for (let wait = 1000; document.contains(section); wait = Math.min(wait * 1.5, 5000)) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    let blast;
    try {
      blast = await readBlast(section.dataset.blast);
    } catch {
      continue;  // offline for a moment, or the server busy: try again
    }
    showBlast(section, blast);
    if (blast.is_finished) {
      delete section.dataset.following;
      return;
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-blast][data-following]").forEach(followBlast);
});
