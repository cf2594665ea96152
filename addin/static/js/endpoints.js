// Every address the pane calls, in one place.
const encode = encodeURIComponent;

export const endpoints = {
  me: () => "/me",
  interactionTypes: () => "/interaction-types?active=true",
  lookup: (internetMessageId) => `/captures/lookup?internet_message_id=${encode(internetMessageId)}`,
  matchContacts: (addresses) => `/contacts/match?${addresses.map((a) => `email=${encode(a)}`).join("&")}`,
  search: (types, query) => `/search?types=${encode(types.join(","))}&q=${encode(query)}`,
  captures: () => "/captures",
  capture: (id) => `/captures/${encode(id)}`,
  resends: (interactionId) => `/interactions/${encode(interactionId)}/resends`,
  resendPreview: (interactionId) => `/interactions/${encode(interactionId)}/resend`,
  resend: (interactionId) => `/interactions/${encode(interactionId)}/resend`,
  resendState: (id) => `/resends/${encode(id)}`,
};

// Where a person opens an interaction in the web app.
export const pages = {
  interaction: (id) => `/interactions/${encode(id)}`,
};
