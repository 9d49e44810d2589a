/** Keeps API keys out of everything the extension writes (logs, traces, messages). */

export const REDACTED = '***';

// Bearer tokens and `"apiKey": "..."`-style fields are hidden even when the key is not one
// the extension knows (e.g. one the server read from its environment and echoed back).
const TOKEN_PATTERNS: RegExp[] = [
  /(Bearer\s+)[A-Za-z0-9._~+/=-]+/g,
  /("(?:api_?key|apiKey|generator|verifier|authorization)"\s*:\s*")[^"]*(")/gi,
];

/** Replaces every occurrence of each known secret, and token-shaped fields, with `***`. */
export function redactSecrets(text: string, secrets: Iterable<string | undefined>): string {
  let result = text;
  // Longest first, so a key that contains another key is hidden whole.
  const known = [...secrets].filter((s): s is string => !!s).sort((a, b) => b.length - a.length);
  for (const secret of known) {
    result = result.split(secret).join(REDACTED);
  }
  result = result.replace(TOKEN_PATTERNS[0], `$1${REDACTED}`);
  result = result.replace(TOKEN_PATTERNS[1], `$1${REDACTED}$2`);
  return result;
}
