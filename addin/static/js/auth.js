// An access token for the Interactions API: Nested App Authentication where the
// host supports it, else Office's legacy single sign-on.
import { strings } from "./strings.js";

export class SignInError extends Error {
  constructor(message, cause) {
    super(message);
    this.name = "SignInError";
    this.cause = cause;
  }
}

let nestedApp = null;

function supportsNestedAppAuth() {
  return Boolean(Office.context.requirements?.isSetSupported("NestedAppAuth", "1.1"));
}

async function nestedAppToken(config, forceRefresh) {
  nestedApp ??= msal.createNestablePublicClientApplication({
    auth: { clientId: config.clientId, authority: config.authority },
  });
  const app = await nestedApp;
  const request = { scopes: [config.scope], forceRefresh };
  try {
    return (await app.acquireTokenSilent(request)).accessToken;
  } catch (error) {
    if (!(error instanceof msal.InteractionRequiredAuthError)) throw error;
    return (await app.acquireTokenPopup({ scopes: [config.scope] })).accessToken;
  }
}

function singleSignOnToken() {
  return Office.auth.getAccessToken({
    allowSignInPrompt: true,
    allowConsentPrompt: true,
    forMSGraphAccess: false,
  });
}

export function tokenSource(config) {
  return async ({ forceRefresh = false } = {}) => {
    try {
      if (supportsNestedAppAuth()) return await nestedAppToken(config, forceRefresh);
      return await singleSignOnToken();
    } catch (error) {
      throw new SignInError(strings.signInFailed, error);
    }
  };
}
