/** Progress counting shared by push and pull. */

/**
 * Passes `source` through unchanged, calling `report` with the running total of bytes after each chunk (for
 * progress events; the library never prints).
 */
export async function* counted(
  source: AsyncIterable<Uint8Array>,
  report: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    report(total);
    yield chunk;
  }
}
