/**
 * Moving one blob into a target: the step push and copy share. What the destination holds is skipped, a blob another
 * repository of the destination's registry holds is mounted (no bytes move), anything else is streamed, from a local
 * file in one resumable request when the destination is a registry.
 */
import type { ByteStream, CallOptions, Mounter, Target } from './content.js';
import type { Descriptor } from './descriptor.js';
import { counted } from './artifact/progress.js';

/** What a transfer reports, once per descriptor and step: the one vocabulary of push and copy. */
export type TransferEvent =
  /** The bytes are about to move. */
  | { type: 'copying'; descriptor: Descriptor }
  /** Bytes of `descriptor` sent so far (blobs only). */
  | { type: 'progress'; descriptor: Descriptor; bytes: number }
  /** The descriptor was pushed to the destination. */
  | { type: 'copied'; descriptor: Descriptor }
  /** The destination already had it (for a manifest in a copy: nothing below it was looked at either). */
  | { type: 'skipped'; descriptor: Descriptor }
  /** The blob was mounted from another repository of the destination's registry; no bytes moved. */
  | { type: 'mounted'; descriptor: Descriptor; from: string };

/** Where a blob's bytes come from. */
export interface BlobSource {
  /** Opens the bytes; called only when they have to move. */
  open: () => Promise<ByteStream | Uint8Array>;
  /** A local file holding exactly the bytes, when there is one: a registry then uploads it in one streaming request. */
  file?: string;
}

/** What every transfer of one push or copy shares. */
export interface TransferContext {
  dst: Target;
  signal?: AbortSignal;
  /** Repositories of the destination's registry to mount from, tried in order, when the destination can mount. */
  mountFrom: readonly string[];
  emit: (event: TransferEvent) => void;
}

interface FilePusher {
  pushFile(
    desc: Descriptor,
    file: string,
    options?: CallOptions & { onProgress?: (bytes: number) => void },
  ): Promise<void>;
}

/** True for a target that can mount blobs from another repository of its registry. */
export function isMounter(t: unknown): t is Mounter {
  return typeof (t as Partial<Mounter>).mount === 'function';
}

function canPushFile(t: unknown): t is FilePusher {
  return typeof (t as Partial<FilePusher>).pushFile === 'function';
}

/**
 * Makes the blob `desc` present in `context.dst`: `skipped` when `exists` says it is there, else `mounted` from the
 * first of `mountFrom` the registry accepts, else its bytes are pushed (`copying`, `progress`…, `copied`). From a
 * local `file` a registry gets one streaming request (it checks the digest on the closing PUT); any other content goes
 * through `dst.push`, which verifies it. A stream that was opened but could not be pushed is closed. Rejects with the
 * signal's reason when it aborts, and with the first failure otherwise.
 */
export async function transferBlob(context: TransferContext, desc: Descriptor, source: BlobSource): Promise<void> {
  const { dst, signal, emit } = context;
  const call: CallOptions = signal ? { signal } : {};
  signal?.throwIfAborted();
  if (await dst.exists(desc, call)) {
    emit({ type: 'skipped', descriptor: desc });
    return;
  }
  if (isMounter(dst)) {
    for (const from of context.mountFrom) {
      if (await dst.mount(desc, from, call)) {
        emit({ type: 'mounted', descriptor: desc, from });
        return;
      }
    }
  }
  emit({ type: 'copying', descriptor: desc });
  const report = (bytes: number): void => {
    emit({ type: 'progress', descriptor: desc, bytes });
  };
  if (source.file !== undefined && canPushFile(dst)) {
    await dst.pushFile(desc, source.file, { ...call, onProgress: report });
  } else {
    const content = await source.open();
    try {
      await dst.push(desc, content instanceof Uint8Array ? content : counted(content, report), call);
    } catch (error) {
      if (!(content instanceof Uint8Array)) await discard(content);
      throw error;
    }
  }
  emit({ type: 'copied', descriptor: desc });
}

/** Best effort: lets the source release a stream nobody will read (an HTTP body, a file). */
async function discard(content: ByteStream): Promise<void> {
  try {
    await content[Symbol.asyncIterator]().return?.();
  } catch {
    // The push failure is what the caller needs to see.
  }
}
