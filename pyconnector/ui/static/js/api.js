// Calls of the connector's HTTP APIs. Relative URLs and same-origin credentials: the pages work
// under any path prefix and behind a reverse proxy that asks for authentication.

export class ApiError extends Error {
  constructor(message, status, errorType) {
    super(message);
    this.status = status;
    this.errorType = errorType;
  }
}

function base() {
  // the pages live at <prefix>/, <prefix>/graph (or /query), <prefix>/traces, <prefix>/status
  const path = window.location.pathname.replace(/\/(graph|query|traces|status)?$/, "");
  return path;
}

export function url(path, params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, v);
  }
  const query = search.toString();
  // absolute from the origin: a page opened as http://user:password@host/ has a base URL with
  // credentials, and fetch() refuses URLs that carry them (the browser adds the cached ones itself)
  return window.location.origin + base() + path + (query ? "?" + query : "");
}

async function request(path, params, init) {
  const response = await fetch(url(path, params), { credentials: "same-origin", ...init });
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch (_) {
    if (!response.ok) throw new ApiError(text.trim() || response.statusText, response.status);
    throw new ApiError(`${path} did not answer JSON`, response.status);
  }
  if (!response.ok || (body && body.status === "error")) {
    const jaeger = body && Array.isArray(body.errors) && body.errors.length ? body.errors[0].msg : null;
    throw new ApiError((body && body.error) || jaeger || response.statusText, response.status, body && body.errorType);
  }
  return body;
}

export const getJSON = (path, params) => request(path, params);

function form(params) {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) body.append(key, v);
  }
  return body;
}

// Prometheus API calls answer {"status":"success","data":...}: return data. Queries are POSTed
// (a long expression fits in a form body, not always in a URL); label values only take GET.
export async function prom(path, params) {
  const post = !path.startsWith("/api/v1/label/");
  const body = post
    ? await request(path, {}, { method: "POST", body: form(params) })
    : await request(path, params);
  return body.data;
}

export async function getText(path) {
  const response = await fetch(url(path), { credentials: "same-origin" });
  if (!response.ok) throw new ApiError(`${path}: ${response.status} ${response.statusText}`, response.status);
  return response.text();
}
