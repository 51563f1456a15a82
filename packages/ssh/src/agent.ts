/**
 * A minimal ssh-agent client (draft-miller-ssh-agent): list identities and sign, over the `SSH_AUTH_SOCK` Unix
 * socket. The agent holds the private key, so keys kept in hardware or a keychain sign too.
 */
import { createConnection } from 'node:net';
import { ErrorCodes, LadingError } from '@lading/core';
import { WireReader, WireWriter } from './wire.js';

const requestIdentities = 11;
const identitiesAnswer = 12;
const signRequest = 13;
const signResponse = 14;
const agentFailure = 5;
/** Flags of a sign request asking an RSA key for a SHA-2 signature. */
export const AgentFlags = { rsaSHA256: 2, rsaSHA512: 4 } as const;
/** Largest agent reply read (OpenSSH's own limit is 256 KiB). */
const maxReply = 256 * 1024;

/** An identity the agent holds: the public key (or certificate) blob and its comment. */
export interface AgentIdentity {
  blob: Buffer;
  comment: string;
}

function agentError(socket: string, why: string, cause?: unknown): LadingError {
  return new LadingError(ErrorCodes.usage, `ssh-agent ${socket}: ${why}`, cause === undefined ? {} : { cause });
}

/** Sends one request and reads one reply. */
function exchange(socket: string, request: Buffer, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const conn = createConnection({ path: socket });
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const done = (error?: unknown, reply?: Buffer): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      conn.destroy();
      if (error !== undefined)
        reject(error instanceof LadingError ? error : agentError(socket, (error as Error).message, error));
      else resolve(reply ?? Buffer.alloc(0));
    };
    const onAbort = (): void => {
      done(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    conn.on('error', (e) => {
      done(agentError(socket, `cannot talk to the agent (${e.message}); is SSH_AUTH_SOCK right?`, e));
    });
    conn.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      const all = Buffer.concat(chunks);
      if (all.length < 4) return;
      const size = all.readUInt32BE(0);
      if (size > maxReply) {
        done(agentError(socket, `reply of ${size} bytes is larger than ${maxReply}`));
        return;
      }
      if (all.length >= 4 + size) done(undefined, all.subarray(4, 4 + size));
    });
    conn.on('end', () => {
      done(agentError(socket, `the agent closed the connection after ${length} bytes`));
    });
    conn.write(new WireWriter().string(request).bytes());
  });
}

/** The identities the agent at `socket` holds. Throws `ERR_LADING_USAGE` when the agent cannot be reached. */
export async function listAgentIdentities(socket: string, signal?: AbortSignal): Promise<AgentIdentity[]> {
  const reply = await exchange(socket, Buffer.from([requestIdentities]), signal);
  const r = new WireReader(reply, 'agent identities');
  const type = r.raw(1)[0];
  if (type !== identitiesAnswer) throw agentError(socket, `unexpected reply ${type} to a list of identities`);
  const count = r.uint32();
  const out: AgentIdentity[] = [];
  for (let i = 0; i < count; i++) out.push({ blob: Buffer.from(r.string()), comment: r.text() });
  return out;
}

/** Asks the agent to sign `data` with the identity `blob`; returns the SSH signature blob. */
export async function agentSign(
  socket: string,
  blob: Uint8Array,
  data: Uint8Array,
  flags: number,
  signal?: AbortSignal,
): Promise<Buffer> {
  const request = new WireWriter()
    .raw(Buffer.from([signRequest]))
    .string(blob)
    .string(data)
    .uint32(flags)
    .bytes();
  const reply = await exchange(socket, request, signal);
  const r = new WireReader(reply, 'agent signature');
  const type = r.raw(1)[0];
  if (type === agentFailure)
    throw agentError(socket, 'the agent refused to sign (key removed, confirmation denied, or token absent)');
  if (type !== signResponse) throw agentError(socket, `unexpected reply ${type} to a sign request`);
  const signature = Buffer.from(r.string());
  r.end();
  return signature;
}
