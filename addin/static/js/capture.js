// One message in the pane: whether it is logged, the slider, and saving it.
import { endpoints, pages } from "./endpoints.js";
import { ApiError } from "./http.js";
import { strings } from "./strings.js";
import { byId, show } from "./views/dom.js";
import { LinkingView } from "./views/linking.js";
import { addressesOf, ParticipantsView } from "./views/participants.js";
import { ProgressView } from "./views/progress.js";
import { ResendView } from "./views/resend.js";
import { SliderView } from "./views/slider.js";

const FINAL = new Set(["stored", "duplicate", "failed"]);
const FIRST_POLL_MS = 700;
const LONGEST_POLL_MS = 5000;
const SLOW_AFTER_MS = 60000;

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class CapturePane {
  constructor(api, me, types, onError) {
    this.api = api;
    this.onError = onError;
    this.item = null;
    // Each message shown gets a number; answers for an older one are dropped.
    this.generation = 0;
    this.form = byId("capture");
    this.save = byId("save");
    this.logged = byId("logged");
    this.slider = new SliderView(types, (type) => this.participants.changeType(type));
    this.participants = new ParticipantsView();
    this.linking = new LinkingView(api, me.firm.has_salespitch);
    this.progress = new ProgressView(() => this.submit());
    this.resends = new ResendView(api, onError);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  async show(item) {
    const generation = ++this.generation;
    this.item = item;
    show(this.form, false);
    show(this.logged, false);
    this.resends.hide();
    this.progress.hide();
    if (!item) return;

    const addresses = addressesOf(item);
    const [lookup, matches] = await Promise.all([
      item.internet_message_id ? this.api.get(endpoints.lookup(item.internet_message_id)) : null,
      addresses.length ? this.api.get(endpoints.matchContacts(addresses)) : { matches: [] },
    ]);
    if (generation !== this.generation) return;

    if (lookup?.is_logged) {
      this.showLogged(lookup.interaction_id);
      return;
    }
    this.slider.fill(item);
    this.participants.fill(item, matches.matches, this.slider.selectedType());
    this.linking.reset();
    this.save.disabled = false;
    show(this.form);

    const pending = lookup?.capture;
    if (pending && !FINAL.has(pending.status)) this.follow(pending, generation);
  }

  showLogged(interactionId) {
    byId("logged-title").textContent = strings.alreadyLogged;
    byId("logged-detail").textContent = strings.alreadyLoggedDetail;
    const link = byId("logged-link");
    link.href = pages.interaction(interactionId);
    link.textContent = strings.openInteraction(interactionId);
    show(this.logged);
    this.resends.show(interactionId);
  }

  async submit() {
    if (this.slider.validate()) return;
    const generation = this.generation;
    this.save.disabled = true;
    this.progress.saving();
    const body = {
      item: this.item,
      ...this.slider.values(),
      links: this.linking.values(),
      participants: this.participants.values(),
    };
    let capture;
    try {
      capture = await this.post(body, generation);
      if (capture === null) return;
    } catch (error) {
      if (generation !== this.generation) return;
      this.save.disabled = false;
      if (error.isUnauthenticated || error.name === "SignInError") this.onError(error);
      else this.progress.failed(error.message);
      return;
    }
    await this.follow(capture, generation);
  }

  // Send the capture; when Interactions is busy (429), say so, wait the seconds it
  // asks, and send it once more. Null when another item was selected meanwhile.
  async post(body, generation) {
    try {
      return await this.api.post(endpoints.captures(), body);
    } catch (error) {
      if (!(error instanceof ApiError && error.isThrottled)) throw error;
      this.progress.busy(error.retryAfter);
      await wait(error.retryAfter * 1000);
      if (generation !== this.generation) return null;
      this.progress.saving();
      return this.api.post(endpoints.captures(), body);
    }
  }

  // Ask for the capture's state until it is final, less often as time goes by.
  async follow(capture, generation) {
    const started = Date.now();
    let delay = FIRST_POLL_MS;
    while (!FINAL.has(capture.status)) {
      this.progress.waiting(capture.status, Date.now() - started > SLOW_AFTER_MS);
      await wait(delay);
      delay = Math.min(delay * 1.5, LONGEST_POLL_MS);
      if (generation !== this.generation) return;
      try {
        capture = await this.api.get(endpoints.capture(capture.id));
      } catch (error) {
        if (generation !== this.generation) return;
        if (error.isUnauthenticated || error.name === "SignInError") {
          this.onError(error);
          return;
        }
        // A passing failure to ask is not a failed capture: keep asking.
      }
      if (generation !== this.generation) return;
    }
    if (capture.status === "failed") {
      this.save.disabled = false;
    } else {
      show(this.form, false);
    }
    this.progress.done(capture);
  }
}
