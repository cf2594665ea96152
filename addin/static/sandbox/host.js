// The sandbox's stand-in for Outlook, loaded into the pane's frame after office.js
// (only on the sandbox page). Office.js outside Outlook has no mailbox, so this
// provides Office.context.mailbox with the message selected in the sandbox, plays
// ItemChanged when another is selected, and answers Office.auth.getAccessToken with
// a token the sandbox server gets for the demo user from the simulator. Nested app
// authentication is reported as unsupported, so the pane takes its fallback path.
(function () {
  "use strict";

  const host = window.parent !== window ? window.parent.sandboxHost : undefined;
  if (!host) return;

  const SUPPORTED_MAILBOX = 1.13;
  const ITEM_CHANGED = "olkItemSelectedChanged";
  const handlers = new Set();

  function result(status, value, error) {
    return { status, value, error, asyncContext: undefined };
  }

  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  }

  function makeItem(message) {
    if (!message) return null;
    return {
      itemType: "message",
      itemId: message.id,
      internetMessageId: message.internetMessageId,
      conversationId: message.conversationId,
      subject: message.subject,
      from: message.from,
      sender: message.from,
      to: message.to,
      cc: message.cc,
      dateTimeCreated: new Date(message.dateTimeCreated),
      dateTimeModified: new Date(message.dateTimeCreated),
      attachments: message.attachments.map((a, index) => ({
        id: `${message.id}-${index}`,
        name: a.name,
        contentType: a.contentType,
        size: a.size,
        isInline: a.isInline,
        attachmentType: "file",
      })),
      body: {
        getAsync(coercionType, options, callback) {
          const done = typeof options === "function" ? options : callback;
          const body = message.body;
          setTimeout(() => {
            if (!body) {
              done(result("failed", undefined, { code: 9020, name: "GenericResponseError", message: "The body is not available." }));
            } else if (coercionType === "html") {
              const html = body.contentType === "html" ? body.content : `<pre>${escapeHtml(body.content)}</pre>`;
              done(result("succeeded", html));
            } else {
              done(result("succeeded", body.content));
            }
          });
        },
      },
    };
  }

  let item = makeItem(host.message);

  const mailbox = {
    get item() {
      return item;
    },
    userProfile: { emailAddress: host.user, displayName: host.user },
    diagnostics: { hostName: "OutlookWebApp", hostVersion: "sandbox" },
    convertToRestId(itemId) {
      return itemId;
    },
    addHandlerAsync(eventType, handler, options, callback) {
      const done = typeof options === "function" ? options : callback;
      if (eventType === ITEM_CHANGED) handlers.add(handler);
      if (done) setTimeout(() => done(result("succeeded")));
    },
    removeHandlerAsync(eventType, options, callback) {
      const done = typeof options === "function" ? options : callback;
      if (eventType === ITEM_CHANGED) handlers.clear();
      if (done) setTimeout(() => done(result("succeeded")));
    },
  };

  host.subscribe((message) => {
    item = makeItem(message);
    for (const handler of handlers) handler({ type: ITEM_CHANGED });
  });

  function install() {
    // Office's telemetry frame has no Office to talk to here (and the pane's CSP
    // rightly refuses to frame it).
    const telemetry = window.OSF?.Logger?.ulsEndpoint;
    if (telemetry) telemetry.loadProxyFrame = () => {};
    Office.AsyncResultStatus ??= { Succeeded: "succeeded", Failed: "failed" };
    Office.CoercionType ??= { Html: "html", Text: "text" };
    Office.EventType = { ...Office.EventType, ItemChanged: ITEM_CHANGED };
    Office.MailboxEnums ??= { RestVersion: { v1_0: "v1.0", v2_0: "v2.0", Beta: "beta" } };
    Office.context.mailbox = mailbox;
    Office.context.requirements = {
      isSetSupported(name, version) {
        return name === "Mailbox" && Number(version ?? "1.1") <= SUPPORTED_MAILBOX;
      },
    };
    Office.auth = {
      getAccessToken() {
        return host.getAccessToken();
      },
    };
  }

  const ready = Office.onReady.bind(Office);
  Office.onReady = function (callback) {
    return ready().then(() => {
      install();
      const info = { host: "Outlook", platform: "OfficeOnline" };
      if (callback) callback(info);
      return info;
    });
  };
})();
