/**
 * Bounded reads of the JSON replies of the services signing talks to over `fetch` (CI token endpoints, OpenID
 * providers), so a hostile or broken service cannot make lading buffer an answer of any size.
 */
import { readAll } from '@lading/core';

/**
 * Largest reply read from an identity provider or a CI token endpoint: 1 MiB. Their answers (a discovery document,
 * a JWT and a few fields) are a few KiB.
 */
export const MaxServiceReplyBytes = 1024 * 1024;

/**
 * Reads `response`'s body as JSON, at most {@link MaxServiceReplyBytes}: past that the read stops at once (the body
 * is cancelled, the rest never read) and it throws `ERR_LADING_PROTOCOL` "<what>: reply from <url>: too large: more
 * than the 1048576-byte limit", the URL without credentials, query or fragment. Returns undefined when the body is
 * not JSON (the caller says which field is missing).
 */
export async function readJSONReply(response: Response, what: string): Promise<unknown> {
  const body: AsyncIterable<Uint8Array> = response.body ?? noBody();
  const bytes = await readAll(body, MaxServiceReplyBytes, `${what}: reply from ${replyURL(response)}`);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

async function* noBody(): AsyncGenerator<Uint8Array> {
  // A response without a body (204, HEAD) reads as zero bytes.
}

function replyURL(response: Response): string {
  try {
    const url = new URL(response.url);
    return `${url.origin}${url.pathname}`;
  } catch {
    return 'the service';
  }
}
