/**
 * Keeping secrets out of everything a node shows: log lines, error messages, API bodies, metric
 * labels. Two mechanisms:
 *   - redactUrl: a URL's credentials (user:password@), the values of query parameters that name
 *     a key or token, and path segments that look like an API key (Infura's /v3/<id>, Alchemy's
 *     /v2/<key>, ...) become "***"; scheme, host, port and the rest of the path stay readable;
 *   - redactText: every URL in a text, as above, plus "Bearer <token>" and every secret the node
 *     registered at start (registerSecret: API keys, keystore passwords, the configured RPC URL's
 *     secret parts), wherever they appear, JSON-escaped or not.
 * Logs go through redactText line by line (createLogger's stream hook), so a library that
 * prints a URL inside an error (viem does) cannot leak it.
 */

const REDACTED = "***";
const SECRET_QUERY_KEYS = /^(api[-_]?key|apikey|key|token|access[-_]?token|auth|authorization|secret|password|passwd|pass|signature|sig|session|credential|x-api-key|private[-_]?key)$/i;
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
const BEARER = /\b(bearer)\s+[A-Za-z0-9._~+/=-]+/gi;

const secrets = new Set<string>();

/** A path segment that reads as a key: long, and either hex or mixed letters and digits. */
function looksLikeKey(segment: string): boolean {
  if (segment.length < 16 || !/^[A-Za-z0-9_-]+$/.test(segment)) return false;
  if (/^[0-9a-fA-F]+$/.test(segment) && segment.length >= 24) return true;
  return /[0-9]/.test(segment) && /[A-Za-z]/.test(segment) && !/^\d+$/.test(segment);
}

/** A URL with its credentials, key-like query values and key-like path segments replaced by ***. */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not parseable: still strip anything that looks like user:password@.
    return text.replace(/\/\/[^/@\s]*@/, `//${REDACTED}@`);
  }
  if (url.username || url.password) {
    url.username = REDACTED;
    url.password = "";
  }
  const path = url.pathname.split("/").map((seg) => (looksLikeKey(decodeURIComponentSafe(seg)) ? REDACTED : seg)).join("/");
  if (path !== url.pathname) url.pathname = path;
  for (const key of [...url.searchParams.keys()]) if (SECRET_QUERY_KEYS.test(key)) url.searchParams.set(key, REDACTED);
  let out = url.toString();
  // URL escapes the asterisks in some positions; show them as written.
  out = out.replaceAll("%2A%2A%2A", REDACTED).replaceAll("%2a%2a%2a", REDACTED);
  // Keep the input's lack of a trailing slash on a bare origin.
  if (!text.endsWith("/") && out.endsWith("/") && url.pathname === "/") out = out.slice(0, -1);
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Registers a secret to be removed from every text redactText sees (API keys, passwords). A
 * URL registers its secret parts (credentials, key-like path segments and query values).
 */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 4) return;
  let url: URL | undefined;
  try {
    url = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url) {
    secrets.add(value);
    return;
  }
  if (url.username) secrets.add(decodeURIComponentSafe(url.username));
  if (url.password) secrets.add(decodeURIComponentSafe(url.password));
  for (const seg of url.pathname.split("/")) if (looksLikeKey(decodeURIComponentSafe(seg))) secrets.add(decodeURIComponentSafe(seg));
  for (const [key, v] of url.searchParams) if (SECRET_QUERY_KEYS.test(key) && v.length >= 4) secrets.add(v);
}

/** For tests: forgets registered secrets. */
export function clearRegisteredSecrets(): void {
  secrets.clear();
}

/** `text` with every URL redacted, bearer tokens and registered secrets replaced by ***. */
export function redactText(text: string): string {
  let out = text.replace(URL_IN_TEXT, (match) => {
    // A URL inside JSON may end in an escaped quote or a backslash: redact up to it.
    const cut = match.search(/\\/);
    return cut >= 0 ? redactUrl(match.slice(0, cut)) + match.slice(cut) : redactUrl(match);
  });
  out = out.replace(BEARER, `$1 ${REDACTED}`);
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret && out.includes(escaped)) out = out.split(escaped).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && out.includes(encoded)) out = out.split(encoded).join(REDACTED);
  }
  return out;
}
