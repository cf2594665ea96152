// A Blast Email's page: its progress bar, counts and recipients' statuses follow
// the sending without a reload, until every message is sent or failed; then the
// summary shows, with Retry beside each failed recipient. The page works without
// this script: a reload shows the same.
"use strict";

const blastCsrfToken = () =>
  document.querySelector('meta[name="csrf-token"]')?.content ?? "";

async function readBlast(id) {
  const response = await fetch(`/api/v1/blasts/${id}`, {
    credentials: "same-origin",
    headers: { "X-CSRF-Token": blastCsrfToken(), Accept: "application/json" },
  });
  if (!response.ok) throw new Error(`The blast could not be read (${response.status}).`);
  return response.json();
}

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
