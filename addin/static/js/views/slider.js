// The slider's own fields: Type (Email by default, active types only), Title, date.
import { strings } from "../strings.js";
import { byId, el, show } from "./dom.js";

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export class SliderView {
  constructor(types, onTypeChange) {
    this.types = types;
    this.type = byId("type");
    this.title = byId("title");
    this.titleError = byId("title-error");
    this.date = byId("date");
    this.type.replaceChildren(
      ...types.map((type) => el("option", { value: String(type.id), text: type.display_name })),
    );
    this.type.addEventListener("change", () => onTypeChange(this.selectedType()));
    this.title.addEventListener("input", () => this.clearError());
  }

  defaultType() {
    return (
      this.types.find((type) => type.base_name === "Email" && type.display_name === "Email") ??
      this.types.find((type) => type.base_name === "Email") ??
      this.types[0] ??
      null
    );
  }

  fill(item) {
    const type = this.defaultType();
    if (type) this.type.value = String(type.id);
    this.title.value = item.subject;
    this.clearError();
    if (item.sent_at) {
      this.date.dateTime = item.sent_at;
      this.date.textContent = dateFormat.format(new Date(item.sent_at));
    } else {
      this.date.removeAttribute("datetime");
      this.date.textContent = "";
    }
  }

  selectedType() {
    return this.types.find((type) => String(type.id) === this.type.value) ?? null;
  }

  // The first problem, shown at its field and focused; null when all is well.
  validate() {
    if (!this.selectedType()) {
      this.type.focus();
      return strings.typeRequired;
    }
    if (!this.title.value.trim()) {
      this.titleError.textContent = strings.titleRequired;
      show(this.titleError);
      this.title.setAttribute("aria-invalid", "true");
      this.title.focus();
      return strings.titleRequired;
    }
    return null;
  }

  clearError() {
    show(this.titleError, false);
    this.title.removeAttribute("aria-invalid");
  }

  values() {
    return { type_id: this.selectedType()?.id ?? null, title: this.title.value.trim() };
  }
}
