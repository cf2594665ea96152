// The admin page's small scripts. Every page works without them; with them, the
// slider opens as a side panel over the page, Linking finds records as a name is
// typed, an email dropped on an Interactions tab opens the slider prefilled, and a
// grid's columns sort.
"use strict";

const csrfToken = () =>
  document.querySelector('meta[name="csrf-token"]')?.content ?? "";

// -- the slider as a side panel ---------------------------------------------------

/** The slider's own pages, which open in the panel rather than as pages. */
const SLIDER_PAGES = /^\/interactions\/(new|\d+\/(edit|participants|delete))$/;

const dialog = () => document.querySelector("[data-slider-dialog]");

/** Show the slider panel of a page's HTML; false when the page has none. */
function showPanel(html) {
  const page = new DOMParser().parseFromString(html, "text/html");
  const panel = page.querySelector("[data-slider-panel]");
  if (!panel) return false;
  const box = dialog();
  box.replaceChildren(document.importNode(panel, true));
  enhanceNotes(box);
  if (!box.open) box.showModal();
  (box.querySelector("[aria-invalid=true]") ?? box.querySelector("input:not([type=hidden]), select, textarea"))?.focus();
  return true;
}

/** Load a slider page (GET, or a form's POST) into the panel, or follow it. */
async function load(url, options = {}) {
  let response;
  try {
    response = await fetch(url, {
      credentials: "same-origin",
      ...options,
      headers: { "X-Slider": "1" },
    });
  } catch {
    window.location.assign(url);  // the server is out of reach: let the browser say so
    return;
  }
  const next = response.headers.get("X-Location");
  if (next !== null && SLIDER_PAGES.test(new URL(next, window.location.href).pathname)) {
    load(next);  // a change in the slider that stays in it, such as a participant
  } else if (next !== null) {
    window.location.assign(next);  // saved: the page it leads to says so
  } else if (!showPanel(await response.text())) {
    window.location.assign(response.url);  // a page of its own, such as an error
  }
}

document.addEventListener("click", (event) => {
  const opener = event.target.closest("a[data-slider]");
  if (opener && dialog() && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
    event.preventDefault();
    load(opener.href);
    return;
  }
  const closer = event.target.closest("[data-close]");
  if (closer && dialog()?.contains(closer)) {
    event.preventDefault();
    dialog().close();
  }
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!dialog()?.contains(form) || form.method.toLowerCase() !== "post") return;
  event.preventDefault();
  const body = new FormData(form);
  if (event.submitter?.name) body.append(event.submitter.name, event.submitter.value);
  load(form.action || window.location.href, { method: "POST", body });
});

// -- notes in rich text ----------------------------------------------------------

const FORMATS = [
  ["bold", "Bold", "B"],
  ["italic", "Italic", "I"],
  ["insertUnorderedList", "Bulleted list", "•"],
];

/** The notes' textarea becomes an editor with bold, italic and lists; the form
 * sends the text as before, and its formatting as body_html (sanitized on save). */
function enhanceNotes(root) {
  for (const field of root.querySelectorAll("[data-rich-notes]:not([data-enhanced])")) {
    field.dataset.enhanced = "";
    const textarea = field.querySelector("textarea");
    const toolbar = Object.assign(document.createElement("div"), { className: "rich-toolbar" });
    toolbar.setAttribute("role", "toolbar");
    toolbar.setAttribute("aria-label", "Formatting of the notes");
    const editor = Object.assign(document.createElement("div"), { className: "rich-editor" });
    editor.contentEditable = "true";
    editor.setAttribute("role", "textbox");
    editor.setAttribute("aria-multiline", "true");
    editor.setAttribute("aria-labelledby", `${textarea.id}-label`);
    if (field.dataset.html) editor.innerHTML = field.dataset.html;
    else editor.innerText = textarea.value;
    for (const [command, label, text] of FORMATS) {
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: text });
      button.className = "secondary";
      button.setAttribute("aria-label", label);
      button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the selection
      button.addEventListener("click", () => {
        editor.focus();
        document.execCommand(command);
      });
      toolbar.append(button);
    }
    const html = Object.assign(document.createElement("input"), { type: "hidden", name: "body_html" });
    textarea.hidden = true;
    field.append(toolbar, editor, html);
    const form = field.closest("form");
    const sync = () => {
      textarea.value = editor.innerText.trim();
      html.value = textarea.value ? editor.innerHTML : "";
    };
    editor.addEventListener("input", sync);
    form.addEventListener("submit", sync, { capture: true });
    form.addEventListener("formdata", sync);
    sync();
  }
}

document.addEventListener("DOMContentLoaded", () => enhanceNotes(document));

// -- Linking: search as you type --------------------------------------------------

function linkingOf(element) {
  const section = element.closest("[data-linking]");
  return section && {
    section,
    kind: section.querySelector("[data-link-type]"),
    query: section.querySelector("[data-link-query]"),
    results: section.querySelector("[data-link-results]"),
    links: section.querySelector("[data-links]"),
    status: section.querySelector("[data-link-status]"),
  };
}

let searchTimer;
let searchSeq = 0;

async function search(linking) {
  const kind = linking.kind.value;
  const text = linking.query.value.trim();
  const seq = ++searchSeq;
  linking.results.replaceChildren();
  linking.query.setAttribute("aria-expanded", "false");
  if (!kind || !text) {
    linking.status.textContent = kind ? "" : "Choose Link to Type first.";
    return;
  }
  const params = new URLSearchParams({ types: kind, q: text });
  let found;
  try {
    const response = await fetch(`/api/v1/search?${params}`, {
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error?.message ?? "The search failed.");
    found = body.results;
  } catch (error) {
    if (seq === searchSeq) linking.status.textContent = error.message;
    return;
  }
  if (seq !== searchSeq) return;  // a newer search is on its way
  const chosen = new Set([...linking.links.querySelectorAll("input[name=link]")].map((i) => i.value));
  for (const result of found) {
    const value = `${result.record_type}:${result.record_id}`;
    const item = document.createElement("li");
    item.setAttribute("role", "option");
    item.id = `link-option-${value.replace(":", "-")}`;
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.linkChoose = value;
    button.dataset.name = result.name;
    button.textContent = result.name;
    if (result.detail) {
      const detail = document.createElement("span");
      detail.className = "muted";
      detail.textContent = ` ${result.detail}`;
      button.append(detail);
    }
    if (chosen.has(value)) {
      button.disabled = true;
      button.title = "Linked already";
    }
    item.append(button);
    linking.results.append(item);
  }
  linking.query.setAttribute("aria-expanded", String(found.length > 0));
  const name = linking.kind.selectedOptions[0]?.textContent.toLowerCase();
  linking.status.textContent = found.length
    ? `${found.length} found; choose one to link.`
    : `No ${name} is called “${text}”.`;
}

function choose(linking, button) {
  const value = button.dataset.linkChoose;
  const item = document.createElement("li");
  const field = Object.assign(document.createElement("input"), { type: "hidden", name: "link", value });
  const label = document.createElement("span");
  label.textContent = `${button.dataset.name} `;
  const kind = document.createElement("span");
  kind.className = "muted";
  kind.textContent = linking.kind.selectedOptions[0]?.textContent ?? "";
  label.append(kind);
  const remove = Object.assign(document.createElement("button"), {
    type: "button",
    className: "secondary",
    textContent: "Remove",
  });
  remove.dataset.linkRemove = value;
  remove.setAttribute("aria-label", `Remove the link to ${button.dataset.name}`);
  item.append(field, label, remove);
  linking.links.append(item);
  button.disabled = true;
  linking.status.textContent = `${button.dataset.name} will be linked when you save.`;
  linking.query.focus();
}

document.addEventListener("input", (event) => {
  const linking = event.target.matches("[data-link-query]") && linkingOf(event.target);
  if (!linking) return;
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => search(linking), 150);
});

document.addEventListener("change", (event) => {
  const linking = event.target.matches("[data-link-type]") && linkingOf(event.target);
  if (linking && linking.query.value.trim()) search(linking);
});

document.addEventListener("click", (event) => {
  const linking = linkingOf(event.target);
  if (!linking) return;
  const chooser = event.target.closest("[data-link-choose]");
  const remover = event.target.closest("[data-link-remove], button[name=unlink]");
  const finder = event.target.closest("[data-link-find]");
  if (chooser) {
    event.preventDefault();
    choose(linking, chooser);
  } else if (remover) {
    event.preventDefault();
    const name = remover.getAttribute("aria-label")?.replace("Remove the link to ", "") ?? "The link";
    remover.closest("li").remove();
    linking.status.textContent = `${name} will be unlinked when you save.`;
    linking.query.focus();
  } else if (finder) {
    event.preventDefault();
    search(linking);
  }
});

document.addEventListener("keydown", (event) => {
  const linking = linkingOf(event.target);
  if (!linking) return;
  const options = [...linking.results.querySelectorAll("button:not([disabled])")];
  const at = options.indexOf(document.activeElement);
  if (event.key === "Enter" && event.target.matches("[data-link-query]")) {
    event.preventDefault();  // Enter in the name searches; it does not save the form
    search(linking);
  } else if (event.key === "ArrowDown" && options.length) {
    event.preventDefault();
    options[Math.min(at + 1, options.length - 1)].focus();
  } else if (event.key === "ArrowUp" && at >= 0) {
    event.preventDefault();
    (at === 0 ? linking.query : options[at - 1]).focus();
  }
});

// -- an email dropped on an Interactions tab ---------------------------------------

async function importFile(tab, file) {
  const error = tab.querySelector("[data-import-error]");
  error.hidden = true;
  const body = new FormData();
  body.append("file", file, file.name);
  tab.classList.add("importing");
  try {
    const params = new URLSearchParams({ record: tab.dataset.record });
    const response = await fetch(`/api/v1/imports?${params}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
      body,
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error?.message ?? "The file could not be imported.");
    const form = new FormData();
    form.append("csrf_token", csrfToken());
    form.append("prefill", "");
    form.append("back", tab.dataset.back);
    form.append("draft", JSON.stringify(answer));
    await load("/interactions/new", { method: "POST", body: form });
  } catch (failure) {
    error.textContent = failure.message;
    error.hidden = false;
  } finally {
    tab.classList.remove("importing");
  }
}

document.addEventListener("dragover", (event) => {
  const tab = event.target.closest?.("[data-drop-import]");
  if (!tab || !event.dataTransfer.types.includes("Files")) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
  tab.classList.add("drop-target");
});

document.addEventListener("dragleave", (event) => {
  const tab = event.target.closest?.("[data-drop-import]");
  if (tab && !tab.contains(event.relatedTarget)) tab.classList.remove("drop-target");
});

document.addEventListener("drop", (event) => {
  const tab = event.target.closest?.("[data-drop-import]");
  if (!tab) return;
  event.preventDefault();
  tab.classList.remove("drop-target");
  const [file] = event.dataTransfer.files;
  if (file) importFile(tab, file);
});

document.addEventListener("change", (event) => {
  if (!event.target.matches("[data-import-file]")) return;
  const [file] = event.target.files;
  if (file) importFile(event.target.closest("[data-drop-import]"), file);
  event.target.value = "";
});

// -- sorting the rows a grid shows ------------------------------------------------

function sortGrid(header) {
  const table = header.closest("table");
  const column = [...header.parentElement.children].indexOf(header);
  const ascending = header.getAttribute("aria-sort") !== "ascending";
  const key = (row) => {
    const cell = row.children[column];
    return cell.dataset.value ?? cell.textContent.trim().toLowerCase();
  };
  const body = table.tBodies[0];
  const rows = [...body.rows].sort((a, b) => key(a).localeCompare(key(b)) * (ascending ? 1 : -1));
  body.append(...rows);
  for (const other of header.parentElement.children) other.removeAttribute("aria-sort");
  header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  table.caption.textContent = table.caption.textContent.replace(/, sorted by .*$/, "") +
    `, sorted by ${header.textContent.trim().toLowerCase()} ${ascending ? "ascending" : "descending"}`;
}

function makeSortable(table) {
  for (const header of table.querySelectorAll("th[data-sort]")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.append(...header.childNodes);
    header.append(button);
    button.addEventListener("click", () => sortGrid(header));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table[data-sortable]").forEach(makeSortable);
});

// -- resend history: each resend on its way, followed until it is final ------------

async function follow(cell) {
  for (let wait = 1000; document.contains(cell); wait = Math.min(wait * 1.5, 10000)) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    let resend;
    try {
      const response = await fetch(`/api/v1/resends/${cell.dataset.resend}`, {
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
      });
      if (!response.ok) continue;
      resend = await response.json();
    } catch {
      continue;  // offline for a moment: try again
    }
    cell.querySelector("[data-resend-label]").textContent = resend.label;
    cell.querySelector("[data-resend-reason]").textContent = resend.reason;
    if (resend.is_final) {
      delete cell.dataset.resend;
      return;
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-resend]").forEach(follow);
});
