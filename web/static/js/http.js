// Calls to our JSON API from the pages: the session cookie and the page's CSRF token.

export const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

/** The API's answer as {ok, status, body}; an error body is {error: {code, message, field}}. */
export async function callApi(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const answer = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, body: answer };
}

/** What to tell a person about a failed call: the API's message, or the HTTP status. */
export const errorText = (answer) => answer.body.error?.message ?? `HTTP ${answer.status}`;
