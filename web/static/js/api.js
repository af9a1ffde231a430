// Calling the JSON API from a page: the session cookie plus the page's CSRF token.

export const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

/** `method path` with a JSON body; resolves to {ok, body} (body: the parsed JSON or {}). */
export async function callApi(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  return { ok: response.ok, body: await response.json().catch(() => ({})) };
}
