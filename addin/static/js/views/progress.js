// Saving: progress while the capture is queued and processed, then its result.
import { pages } from "../endpoints.js";
import { strings } from "../strings.js";
import { byId, show } from "./dom.js";

export class ProgressView {
  constructor(onRetry) {
    this.section = byId("progress");
    this.title = byId("progress-title");
    this.detail = byId("progress-detail");
    this.link = byId("progress-link");
    this.retry = byId("retry");
    this.retry.textContent = strings.retry;
    this.retry.addEventListener("click", onRetry);
  }

  hide() {
    show(this.section, false);
  }

  saving() {
    this.render("saving", strings.saving, strings.savingDetail);
    this.title.focus();
  }

  // Interactions asked the pane to slow down: it sends again after `seconds`.
  busy(seconds) {
    this.render("busy", strings.busy, strings.retryingIn(seconds));
  }

  waiting(status, isSlow) {
    const detail = status === "processing" ? strings.processing : strings.queued;
    this.render(status, strings.saving, isSlow ? `${detail} ${strings.slow}` : detail);
  }

  // A final state: stored, duplicate or failed; focus goes to its heading.
  done(capture) {
    if (capture.status === "stored") {
      this.render("stored", strings.stored, strings.storedDetail, capture.interaction_id);
    } else if (capture.status === "duplicate") {
      this.render("duplicate", strings.duplicate, strings.duplicateDetail, capture.interaction_id);
    } else {
      this.failed(strings.failedDetail(capture.reason));
      return;
    }
    this.title.focus();
  }

  failed(reason) {
    this.render("failed", strings.failed, reason);
    show(this.retry);
    this.title.focus();
  }

  render(state, title, detail, interactionId = null) {
    show(this.section);
    this.section.dataset.state = state;
    this.title.textContent = title;
    this.detail.textContent = detail;
    show(this.retry, false);
    show(this.link, interactionId !== null);
    if (interactionId !== null) {
      this.link.href = pages.interaction(interactionId);
      this.link.textContent = strings.openInteraction(interactionId);
    }
  }
}
