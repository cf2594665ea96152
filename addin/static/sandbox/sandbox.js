// The sandbox page: a demo user's simulated mailbox beside the real task pane.
// Selecting a message plays Outlook's ItemChanged in the pane (see host.js).

const listeners = new Set();
const params = new URLSearchParams(location.search);
const userSelect = document.getElementById("user");
const list = document.getElementById("messages");
const status = document.getElementById("mailbox-status");
const frame = document.getElementById("pane");
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

let messages = [];
let selected = null;

async function getJson(url, options) {
  const response = await fetch(url, options);
  if (!response.ok) {
    const payload = await response.json().catch(() => null);
    throw new Error(payload?.error?.message ?? `The sandbox server answered ${response.status}.`);
  }
  return response.json();
}

// What the simulated Office.js in the pane asks of its host.
window.sandboxHost = {
  get user() {
    return userSelect.value;
  },
  get message() {
    return selected;
  },
  async getAccessToken() {
    const answer = await getJson("/addin/sandbox/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: userSelect.value }),
    });
    return answer.access_token;
  },
  subscribe(listener) {
    listeners.add(listener);
  },
};

function select(message) {
  selected = message;
  for (const button of list.querySelectorAll("button")) {
    button.setAttribute("aria-current", String(button.dataset.id === message.id));
  }
  for (const listener of listeners) listener(message);
}

function renderMessages() {
  list.replaceChildren(
    ...messages.map((message) => {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.id = message.id;
      button.setAttribute("aria-current", "false");
      const from = document.createElement("span");
      from.className = "from";
      from.textContent = message.from?.displayName || message.from?.emailAddress || "";
      const subject = document.createElement("span");
      subject.className = "subject";
      subject.textContent = message.subject;
      const date = document.createElement("span");
      date.className = "date";
      date.textContent = dateFormat.format(new Date(message.dateTimeCreated));
      button.append(from, subject, date);
      button.addEventListener("click", () => select(message));
      const item = document.createElement("li");
      item.append(button);
      return item;
    }),
  );
}

async function start() {
  status.textContent = "Loading the demo users…";
  try {
    const { users } = await getJson("/addin/sandbox/users");
    userSelect.replaceChildren(
      ...users.map((user) => {
        const option = document.createElement("option");
        option.value = user.email;
        option.textContent = `${user.name} (${user.firm})`;
        return option;
      }),
    );
    userSelect.value = params.get("user") ?? users[0]?.email ?? "";
    status.textContent = "Loading the mailbox…";
    const email = encodeURIComponent(userSelect.value);
    messages = (await getJson(`/addin/sandbox/messages?email=${email}`)).messages;
  } catch (error) {
    status.textContent = error.message;
    return;
  }
  status.textContent = `${messages.length} messages.`;
  renderMessages();
  if (messages.length) select(messages[0]);
  frame.src = "/addin/taskpane.html?host=sandbox";
  frame.hidden = false;
  showSent();
}

// Sent Items: where a message Interactions sent from this mailbox shows up.
const sentList = document.getElementById("sent");

async function showSent() {
  const email = encodeURIComponent(userSelect.value);
  let sent;
  try {
    sent = (await getJson(`/addin/sandbox/sent?email=${email}`)).sent;
  } catch (error) {
    sentList.replaceChildren(Object.assign(document.createElement("li"), { textContent: error.message }));
    return;
  }
  if (!sent.length) {
    sentList.replaceChildren(Object.assign(document.createElement("li"), { textContent: "Nothing sent yet." }));
    return;
  }
  sentList.replaceChildren(
    ...sent.map((message) => {
      const item = document.createElement("li");
      const subject = document.createElement("span");
      subject.className = "subject";
      subject.textContent = message.subject;
      const to = document.createElement("span");
      to.className = "to";
      to.textContent = `to ${message.to.join(", ")}`;
      const date = document.createElement("span");
      date.className = "date";
      date.textContent = message.sent_at ? dateFormat.format(new Date(message.sent_at)) : "";
      item.append(subject, to, date);
      return item;
    }),
  );
}

document.getElementById("sent-refresh").addEventListener("click", showSent);

// Another user is another mailbox: start again as them.
userSelect.addEventListener("change", () => {
  params.set("user", userSelect.value);
  location.search = params.toString();
});

start();
