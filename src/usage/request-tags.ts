/**
 * Request-level tags (issue 14 item 6): `x-keygate-tags: a,b` adds tags to a request's usage when
 * its key allows it (`allow_request_tags`). Bounded so a client cannot blow up the usage tables:
 * at most MAX_REQUEST_TAGS tags of 1-64 of `A-Za-z0-9._:-` each; an invalid header is refused.
 */
export const MAX_REQUEST_TAGS = 10;
const TAG = /^[A-Za-z0-9._:-]{1,64}$/;

/** The tags of the header (sorted, deduplicated), `undefined` without one, `null` when invalid. */
export function parseRequestTags(header: string | undefined): string[] | undefined | null {
  if (header === undefined || header.trim() === '') return undefined;
  const tags = [...new Set(header.split(',').map((tag) => tag.trim()))].sort();
  if (tags.length > MAX_REQUEST_TAGS || tags.some((tag) => !TAG.test(tag))) return null;
  return tags;
}

/**
 * The request's tags for a key: `undefined` without the header, `null` (refuse with 400
 * `invalid_request`, param `x-keygate-tags`) when the header is invalid or the key does not
 * allow request tags.
 */
export function requestTagsFor(
  header: string | undefined,
  allowRequestTags: boolean | undefined,
): string[] | undefined | null {
  const tags = parseRequestTags(header);
  if (tags === undefined) return undefined;
  return allowRequestTags === true ? tags : null;
}
