// Participants with their roles, matched to contacts by address. Where an address
// belongs to several contacts every candidate is shown and the person chooses.
import { strings } from "../strings.js";
import { byId, el } from "./dom.js";

const MESSAGE_ROLES = ["From", "To", "Cc"];
const KEEP_ADDRESS = "";

// The type's role for From, To or Cc: the one of that name, else the one in its place.
function roleFor(type, position) {
  const offered = type?.roles ?? [];
  if (offered.length === 0) return MESSAGE_ROLES[position];
  const wanted = MESSAGE_ROLES[position].toLowerCase();
  return offered.find((role) => role.toLowerCase() === wanted) ?? offered[Math.min(position, offered.length - 1)];
}

export class ParticipantsView {
  constructor() {
    this.list = byId("participant-list");
    this.rows = [];
  }

  fill(item, matches, type) {
    const candidates = new Map(matches.map((match) => [match.address.toLowerCase(), match.contacts]));
    const people = [
      ...(item.from ? [[0, item.from]] : []),
      ...item.to.map((person) => [1, person]),
      ...item.cc.map((person) => [2, person]),
    ].filter(([, person]) => person.address);
    this.rows = people.map(([position, person], index) => {
      const found = candidates.get(person.address.toLowerCase()) ?? [];
      return {
        key: `participant-${index}`,
        position,
        person,
        candidates: found,
        role: roleFor(type, position),
        contactId: found.length === 1 ? found[0].contact_id : null,
      };
    });
    this.render(type);
  }

  changeType(type) {
    for (const row of this.rows) row.role = roleFor(type, row.position);
    this.render(type);
  }

  render(type) {
    if (this.rows.length === 0) {
      this.list.replaceChildren(el("li", { class: "empty", text: strings.participantsNone }));
      return;
    }
    const roles = type?.roles?.length ? type.roles : MESSAGE_ROLES;
    this.list.replaceChildren(...this.rows.map((row) => this.renderRow(row, roles)));
  }

  renderRow(row, roles) {
    const { address, name } = row.person;
    const roleId = `${row.key}-role`;
    const role = el(
      "select",
      { id: roleId, class: "role", onchange: (event) => (row.role = event.target.value) },
      ...roles.map((value) => el("option", { value, text: value, selected: value === row.role })),
    );
    return el(
      "li",
      { class: "participant" },
      el("div", { class: "who" },
        el("span", { class: "name", text: name || address }),
        name ? el("span", { class: "address", text: address }) : null,
      ),
      el("div", { class: "field inline" },
        el("label", { for: roleId, class: "visually-hidden", text: strings.roleLabel(address) }),
        role,
      ),
      this.renderContact(row),
    );
  }

  renderContact(row) {
    if (row.candidates.length === 0) {
      return el("p", { class: "contact none", text: strings.notAContact });
    }
    if (row.candidates.length === 1) {
      return el("p", { class: "contact", text: strings.oneContact(row.candidates[0].name) });
    }
    const choose = (value) => () => (row.contactId = value === KEEP_ADDRESS ? null : Number(value));
    const option = (value, text, checked) => {
      const id = `${row.key}-contact-${value || "none"}`;
      return el("div", { class: "choice" },
        el("input", { type: "radio", id, name: `${row.key}-contact`, value, checked, onchange: choose(value) }),
        el("label", { for: id, text }),
      );
    };
    return el(
      "fieldset",
      { class: "contact several" },
      el("legend", { text: strings.severalContacts(row.candidates.length) }),
      ...row.candidates.map((contact) =>
        option(String(contact.contact_id), contact.name, row.contactId === contact.contact_id),
      ),
      option(KEEP_ADDRESS, strings.keepAddress, row.contactId === null),
    );
  }

  values() {
    return this.rows.map((row) => ({
      role: row.role,
      address: row.person.address || null,
      display_name: row.person.name,
      ...(row.contactId === null ? {} : { contact_id: row.contactId }),
    }));
  }
}

export function addressesOf(item) {
  const people = [item.from, ...item.to, ...item.cc].filter((person) => person?.address);
  return [...new Set(people.map((person) => person.address.toLowerCase()))];
}
