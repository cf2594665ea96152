// The one way the pane calls the API: JSON, a bearer token, and typed errors.
import { strings } from "./strings.js";

export class ApiError extends Error {
  constructor(status, code, message, field = null, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
    // Whole seconds the server asks to wait before the same request (429), or null.
    this.retryAfter = retryAfter;
  }

  get isUnauthenticated() {
    return this.status === 401;
  }

  get isThrottled() {
    return this.status === 429 && this.retryAfter !== null;
  }
}

export class ApiClient {
  // getToken({ forceRefresh }) resolves to an access token for the API.
  constructor(base, getToken) {
    this.base = base;
    this.getToken = getToken;
    // A promise of the current token, shared by the requests that need one.
    this.token = null;
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body);
  }

  // A 401 means the token expired or was revoked: ask for a new one once.
  async request(method, path, body) {
    const token = await this.currentToken();
    try {
      return await this.send(method, path, body, token);
    } catch (error) {
      if (!(error instanceof ApiError && error.isUnauthenticated)) throw error;
      return this.send(method, path, body, await this.currentToken(token));
    }
  }

  // The token to use; a new one when `rejected` is still the current one, so that
  // requests refused together ask for one new token, not one each.
  async currentToken(rejected = null) {
    const current = this.token;
    if (current === null || (rejected !== null && (await current.catch(() => null)) === rejected)) {
      if (this.token === current) {
        this.token = this.getToken({ forceRefresh: rejected !== null });
      }
    }
    const pending = this.token;
    try {
      return await pending;
    } catch (error) {
      if (this.token === pending) this.token = null;
      throw error;
    }
  }

  async send(method, path, body, token) {
    const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";

    let response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", strings.network);
    }

    const payload = await response.json().catch(() => null);
    if (!response.ok) {
      const detail = payload?.error ?? {};
      const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
      throw new ApiError(
        response.status,
        detail.code ?? "error",
        detail.message || strings.unexpected,
        detail.field ?? null,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
      );
    }
    return payload;
  }
}
