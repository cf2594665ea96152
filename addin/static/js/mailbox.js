// Office.js, as promises: the selected item, read once, and its changes.

function asPromise(call) {
  return new Promise((resolve, reject) => {
    call((result) => {
      if (result.status === Office.AsyncResultStatus.Succeeded) resolve(result.value);
      else reject(result.error ?? new Error("Office.js call failed"));
    });
  });
}

export function hasMailbox() {
  return Boolean(globalThis.Office?.context?.mailbox);
}

function person(details) {
  if (!details) return null;
  return { address: details.emailAddress ?? "", name: details.displayName ?? "" };
}

function restId(item) {
  const mailbox = Office.context.mailbox;
  if (!item.itemId) return null;
  // Mobile hosts give REST ids already; the others give EWS ids.
  if (mailbox.diagnostics?.hostName === "OutlookIOS" || mailbox.diagnostics?.hostName === "OutlookAndroid") {
    return item.itemId;
  }
  return mailbox.convertToRestId(item.itemId, Office.MailboxEnums.RestVersion.v2_0);
}

async function htmlBody(item) {
  try {
    return await asPromise((done) => item.body.getAsync(Office.CoercionType.Html, done));
  } catch {
    return null;
  }
}

// The selected message as the capture API takes it; null when nothing is selected.
export async function readItem() {
  const item = Office.context.mailbox.item;
  if (!item) return null;

  const sentAt = item.dateTimeCreated instanceof Date ? item.dateTimeCreated : null;
  const message = {
    rest_id: restId(item),
    internet_message_id: item.internetMessageId || null,
    conversation_id: item.conversationId || null,
    subject: item.subject ?? "",
    from: person(item.from ?? item.sender),
    to: (item.to ?? []).map(person).filter(Boolean),
    cc: (item.cc ?? []).map(person).filter(Boolean),
    sent_at: sentAt ? sentAt.toISOString() : null,
    attachments: (item.attachments ?? []).map((a) => ({
      name: a.name ?? "",
      content_type: a.contentType ?? "",
      size: a.size ?? 0,
      is_inline: Boolean(a.isInline),
    })),
  };
  const html = await htmlBody(item);
  // Without a body the worker reads the message from the mailbox instead.
  if (html !== null) message.body_html = html;
  return message;
}

export function onItemChanged(handler) {
  return asPromise((done) =>
    Office.context.mailbox.addHandlerAsync(Office.EventType.ItemChanged, handler, done),
  );
}
