// The Linking section: Link to Type, then search-as-you-type; several links allowed.
import { endpoints } from "../endpoints.js";
import { strings } from "../strings.js";
import { byId, el, show } from "./dom.js";

const BASE_TYPES = ["plan", "contact"];
const SALESPITCH_TYPES = ["opportunity", "proposal", "prospect"];
const SEARCH_DELAY_MS = 200;

export class LinkingView {
  constructor(api, hasSalesPitch) {
    this.api = api;
    this.types = hasSalesPitch ? [...BASE_TYPES, ...SALESPITCH_TYPES] : BASE_TYPES;
    this.links = [];
    this.results = [];
    this.active = -1;
    this.searchNumber = 0;
    this.timer = null;

    this.linkType = byId("link-type");
    this.field = byId("link-search-field");
    this.input = byId("link-search");
    this.label = byId("link-search-label");
    this.hint = byId("link-search-hint");
    this.listbox = byId("link-results");
    this.list = byId("link-list");
    this.announcer = byId("link-count");

    this.linkType.replaceChildren(
      el("option", { value: "", text: strings.chooseLinkType }),
      ...this.types.map((type) => el("option", { value: type, text: strings.linkTypes[type] })),
    );
    this.linkType.addEventListener("change", () => this.chooseType());
    this.input.addEventListener("input", () => this.scheduleSearch());
    this.input.addEventListener("keydown", (event) => this.onKey(event));
    this.input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
  }

  reset() {
    this.links = [];
    this.linkType.value = "";
    this.input.value = "";
    show(this.field, false);
    this.close();
    this.renderLinks();
    this.announcer.textContent = "";
  }

  chooseType() {
    const type = this.linkType.value;
    show(this.field, Boolean(type));
    this.input.value = "";
    this.close();
    if (!type) return;
    this.label.textContent = strings.searchLabel(strings.linkTypes[type]);
    this.hint.textContent = strings.searchHint;
    this.input.focus();
  }

  scheduleSearch() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.search(), SEARCH_DELAY_MS);
  }

  async search() {
    const query = this.input.value.trim();
    const type = this.linkType.value;
    const number = ++this.searchNumber;
    if (!query || !type) {
      this.close();
      return;
    }
    this.hint.textContent = strings.searching;
    let found;
    try {
      found = (await this.api.get(endpoints.search([type], query))).results;
    } catch (error) {
      if (number === this.searchNumber) this.hint.textContent = error.message;
      return;
    }
    // An answer to an older query arrived late: a newer one is on its way.
    if (number !== this.searchNumber) return;
    this.results = found;
    this.active = found.length ? 0 : -1;
    this.hint.textContent = found.length ? strings.resultCount(found.length) : strings.noResults;
    this.renderResults();
  }

  renderResults() {
    this.listbox.replaceChildren(
      ...this.results.map((result, index) =>
        el(
          "li",
          {
            id: `link-result-${index}`,
            role: "option",
            class: "result",
            "aria-selected": index === this.active ? "true" : "false",
            onmousedown: (event) => event.preventDefault(),
            onclick: () => this.pick(index),
          },
          el("span", { class: "name", text: result.name }),
          result.detail ? el("span", { class: "detail", text: result.detail }) : null,
        ),
      ),
    );
    const open = this.results.length > 0;
    show(this.listbox, open);
    this.input.setAttribute("aria-expanded", String(open));
    if (open && this.active >= 0) this.input.setAttribute("aria-activedescendant", `link-result-${this.active}`);
    else this.input.removeAttribute("aria-activedescendant");
  }

  close() {
    this.results = [];
    this.active = -1;
    this.renderResults();
  }

  onKey(event) {
    const count = this.results.length;
    if (event.key === "ArrowDown" && count) {
      this.active = (this.active + 1) % count;
    } else if (event.key === "ArrowUp" && count) {
      this.active = (this.active - 1 + count) % count;
    } else if (event.key === "Enter") {
      // Enter picks a result; it never submits the form from the search box.
      event.preventDefault();
      if (this.active >= 0) this.pick(this.active);
      return;
    } else if (event.key === "Escape" && count) {
      this.close();
    } else {
      return;
    }
    event.preventDefault();
    this.renderResults();
  }

  pick(index) {
    const result = this.results[index];
    if (!result) return;
    const known = this.links.some(
      (link) => link.record_type === result.record_type && link.record_id === result.record_id,
    );
    if (known) {
      this.announcer.textContent = strings.alreadyLinked(result.name);
    } else {
      this.links.push(result);
      this.announcer.textContent = strings.linkAdded(result.name, this.links.length);
    }
    this.input.value = "";
    this.hint.textContent = strings.searchHint;
    this.close();
    this.renderLinks();
    this.input.focus();
  }

  remove(link) {
    this.links = this.links.filter((other) => other !== link);
    this.announcer.textContent = strings.linkRemoved(link.name);
    this.renderLinks();
    (this.list.querySelector("button") ?? this.linkType).focus();
  }

  renderLinks() {
    this.list.replaceChildren(
      ...this.links.map((link) =>
        el(
          "li",
          { class: "link" },
          el("span", { class: "kind", text: strings.linkTypes[link.record_type] ?? link.record_type }),
          el("span", { class: "name", text: link.name }),
          el("button", {
            type: "button",
            class: "remove",
            "aria-label": strings.removeLink(link.name),
            text: "×",
            onclick: () => this.remove(link),
          }),
        ),
      ),
    );
  }

  values() {
    return this.links.map((link) => ({ record_type: link.record_type, record_id: link.record_id }));
  }
}
