// A logged email's resends in the pane: Resend after a confirmation that lists the
// recipients, and each resend followed until it is sent or failed.
import { endpoints } from "../endpoints.js";
import { strings } from "../strings.js";
import { byId, el, show } from "./dom.js";

const FIRST_POLL_MS = 1000;
const LONGEST_POLL_MS = 8000;
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class ResendView {
  constructor(api, onError) {
    this.api = api;
    this.onError = onError;
    this.section = byId("resends");
    this.list = byId("resend-list");
    this.button = byId("resend");
    this.confirmBox = byId("resend-confirm");
    this.question = byId("resend-question");
    this.status = byId("resend-status");
    this.interactionId = null;
    this.generation = 0;
    this.requestKey = null;
    this.button.addEventListener("click", () => this.ask());
    byId("resend-yes").addEventListener("click", () => this.send());
    byId("resend-no").addEventListener("click", () => this.cancel());
  }

  hide() {
    this.generation++;
    show(this.section, false);
  }

  // The resends of a logged interaction, if it is an email this person may resend.
  async show(interactionId) {
    const generation = ++this.generation;
    this.interactionId = interactionId;
    show(this.confirmBox, false);
    this.status.textContent = "";
    let history;
    try {
      history = await this.api.get(endpoints.resends(interactionId));
    } catch {
      return; // no resend history to show: the pane still says it is logged
    }
    if (generation !== this.generation) return;
    this.render(history.resends);
    show(this.section);
    for (const resend of history.resends) {
      if (!resend.is_final) this.follow(resend, generation);
    }
  }

  render(resends) {
    this.list.replaceChildren(
      ...resends.map((resend) =>
        el(
          "li",
          { "data-resend": resend.id },
          el("span", { class: "resend-state", text: resend.label }),
          el("span", { class: "resend-detail", text: strings.resentBy(resend) }),
        ),
      ),
    );
    if (!resends.length) this.list.append(el("li", { text: strings.notResent }));
  }

  async ask() {
    const generation = this.generation;
    let preview;
    try {
      preview = await this.api.get(endpoints.resendPreview(this.interactionId));
    } catch (error) {
      if (error.isUnauthenticated || error.name === "SignInError") this.onError(error);
      else this.status.textContent = error.message;
      return;
    }
    if (generation !== this.generation) return;
    this.requestKey = crypto.randomUUID();
    this.question.textContent = strings.resendQuestion(preview.recipients);
    show(this.confirmBox);
    byId("resend-yes").focus();
  }

  cancel() {
    show(this.confirmBox, false);
    this.button.focus();
  }

  async send() {
    const generation = this.generation;
    show(this.confirmBox, false);
    let resend;
    try {
      // The same key however often this is sent: one click, one resend.
      resend = await this.api.post(endpoints.resend(this.interactionId), {
        request_key: this.requestKey,
      });
    } catch (error) {
      if (error.isUnauthenticated || error.name === "SignInError") this.onError(error);
      else this.status.textContent = error.message;
      return;
    }
    if (generation !== this.generation) return;
    this.status.textContent = strings.resendAsked;
    await this.show(this.interactionId);
  }

  async follow(resend, generation) {
    let delay = FIRST_POLL_MS;
    while (!resend.is_final) {
      await wait(delay);
      delay = Math.min(delay * 1.5, LONGEST_POLL_MS);
      if (generation !== this.generation) return;
      try {
        resend = await this.api.get(endpoints.resendState(resend.id));
      } catch {
        continue; // a passing failure to ask: ask again
      }
      if (generation !== this.generation) return;
      const item = this.list.querySelector(`[data-resend="${resend.id}"] .resend-state`);
      if (item) item.textContent = resend.label;
    }
    if (resend.status === "failed") this.status.textContent = resend.reason;
  }
}
