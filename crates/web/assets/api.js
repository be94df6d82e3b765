// The public REST API, called as any frontend calls it: `Authorization: Bearer <token>`, JSON
// in and out, and the API's {"errorCode","message"} errors thrown as ApiError. The token lives
// in sessionStorage: it is gone when the tab closes.

const TOKEN_KEY = 'switchboard.token';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

let unauthorized = () => {};
/** Called with the ApiError when the API answers 401 (token unknown or revoked). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

async function send(method, path, body, bearer) {
  const headers = { Accept: 'application/json' };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch {
    throw new ApiError(0, 'NETWORK', 'Switchboard did not answer. Check that the server is running and your connection, then try again.');
  }
}

async function failure(response) {
  let json = null;
  try {
    json = await response.json();
  } catch {
    // Not JSON (a proxy's error page): say the status.
  }
  return new ApiError(
    response.status,
    (json && json.errorCode) || `HTTP_${response.status}`,
    (json && json.message) || `The server answered ${response.status} ${response.statusText}.`,
  );
}

/** Calls the API with the session's token (or `as`, when signing in). */
export async function request(method, path, body, { as } = {}) {
  const response = await send(method, path, body, as || token());
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401 && !as) unauthorized(error);
    throw error;
  }
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const api = {
  get: (path, options) => request('GET', path, undefined, options),
  post: (path, body) => request('POST', path, body),
  patch: (path, body) => request('PATCH', path, body),
  put: (path, body) => request('PUT', path, body),
  delete: (path) => request('DELETE', path),
};

/** A query string from the non-empty values of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') q.set(key, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

/**
 * A customer's file as a blob: URL (an <img> cannot send the bearer token, so the page fetches
 * the file and shows it from memory). Cached per media id for the life of the page.
 */
const blobs = new Map();
export function mediaUrl(path) {
  // The token goes only to this server's API, whatever a message's data says.
  if (!path.startsWith('/api/')) return Promise.reject(new ApiError(0, 'BAD_MEDIA_URL', `Not loading ${path}: files come from /api/media.`));
  if (!blobs.has(path)) {
    const loading = (async () => {
      const response = await send('GET', path, undefined, token());
      if (!response.ok) {
        const error = await failure(response);
        if (response.status === 401) unauthorized(error);
        throw error;
      }
      return URL.createObjectURL(await response.blob());
    })();
    blobs.set(path, loading);
    loading.catch(() => blobs.delete(path));
  }
  return blobs.get(path);
}

/** Forgets the files fetched for the signed-out user. */
export function dropMedia() {
  for (const loading of blobs.values()) loading.then((url) => URL.revokeObjectURL(url), () => {});
  blobs.clear();
}
