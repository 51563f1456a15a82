/** Progress counting shared by push, pull and copy. */

/** Bytes between two progress reports of one stream: enough for a smooth display, few enough to cost nothing. */
export const ProgressStep = 1024 * 1024;

/**
 * Passes `source` through unchanged, calling `report` with the running total of bytes (for progress events; the
 * library never prints): after a chunk once at least `step` bytes (default {@link ProgressStep}, 1 MiB) came since
 * the last report, and once at the end with the total when that was not reported yet.
 */
export async function* counted(
  source: AsyncIterable<Uint8Array>,
  report: (bytes: number) => void,
  step = ProgressStep,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  let reported = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total - reported >= step) {
      reported = total;
      report(total);
    }
    yield chunk;
  }
  if (total !== reported) report(total);
}
