// The task pane's entry: Office.onReady, sign-in, then one message at a time.
import { CapturePane } from "./capture.js";
import { endpoints } from "./endpoints.js";
import { ApiClient } from "./http.js";
import { tokenSource } from "./auth.js";
import { hasMailbox, onItemChanged, readItem } from "./mailbox.js";
import { strings } from "./strings.js";
import { byId, show } from "./views/dom.js";

const config = JSON.parse(byId("pane-config").textContent);
const RIGHT = "Add/Edit Interaction";
const api = new ApiClient(config.apiBase, tokenSource(config));

function notify(message, action = null) {
  byId("notice").textContent = message;
  const button = byId("notice-action");
  show(button, action !== null);
  if (action) {
    button.textContent = action.label;
    button.onclick = action.run;
  }
}

function hideEverything() {
  for (const id of ["capture", "logged", "progress"]) show(byId(id), false);
}

// A failure that stops the pane: say what happened and offer to start again.
function fail(error) {
  hideEverything();
  if (error?.status === 401) {
    notify(strings.sessionExpired, { label: strings.signInAgain, run: start });
  } else if (error?.name === "SignInError") {
    notify(error.message, { label: strings.signInAgain, run: start });
  } else {
    notify(error?.message || strings.unexpected, { label: strings.retry, run: start });
  }
  byId("notice-action").focus();
}

let pane = null;
let following = false;
let selection = 0;

async function showSelected() {
  const current = ++selection;
  notify(strings.loading);
  try {
    const item = await readItem();
    // Another message was selected while this one was read: it is shown instead.
    if (current !== selection) return;
    await pane.show(item);
    notify(item ? "" : strings.noItem);
  } catch (error) {
    fail(error);
  }
}

async function start() {
  hideEverything();
  if (!hasMailbox()) {
    notify(strings.outsideOutlook);
    return;
  }
  if (config.mode === "compose") {
    notify(strings.composeMode);
    return;
  }
  notify(strings.loading);
  // Starting again (after a failed sign-in) asks for a new token.
  api.token = null;
  let me;
  let types;
  try {
    [me, types] = await Promise.all([api.get(endpoints.me()), api.get(endpoints.interactionTypes())]);
  } catch (error) {
    fail(error);
    return;
  }
  if (!me.firm.has_interactions) {
    notify(strings.noInteractions);
    return;
  }
  if (!me.rights.includes(RIGHT)) {
    notify(strings.noRight);
    return;
  }
  if (types.types.length === 0) {
    notify(strings.noTypes);
    return;
  }
  pane ??= new CapturePane(api, me, types.types, fail);
  // Follow the selection before reading it, so that a change meanwhile is not lost.
  if (!following) {
    following = true;
    await onItemChanged(() => showSelected());
  }
  await showSelected();
}

Office.onReady().then(start);
