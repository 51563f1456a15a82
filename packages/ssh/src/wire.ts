/**
 * The SSH wire encoding (RFC 4251 §5): `uint32`, `uint64`, `string` (length-prefixed bytes) and `mpint`
 * (two's-complement big-endian, minimal, positive numbers with a leading zero when the top bit is set).
 */

/** Reads SSH wire values from a buffer; every read checks bounds and throws a plain `Error` naming `what`. */
export class WireReader {
  #offset = 0;
  readonly #bytes: Buffer;
  readonly #what: string;

  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#what = what;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /** Where the next read starts. */
  get offset(): number {
    return this.#offset;
  }

  raw(length: number): Buffer {
    if (length < 0 || this.remaining < length) throw new Error(`${this.#what}: truncated`);
    const out = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  uint32(): number {
    return this.raw(4).readUInt32BE(0);
  }

  uint64(): bigint {
    return this.raw(8).readBigUInt64BE(0);
  }

  string(): Buffer {
    return this.raw(this.uint32());
  }

  /** A `string` that must be UTF-8 text. */
  text(): string {
    return new TextDecoder('utf-8', { fatal: true }).decode(this.string());
  }

  /** An `mpint`, returned as its unsigned magnitude with leading zeros removed; negative numbers are refused. */
  mpint(): Buffer {
    const bytes = this.string();
    if (bytes.length > 0 && (bytes[0] ?? 0) & 0x80) throw new Error(`${this.#what}: negative mpint`);
    let start = 0;
    while (start < bytes.length && bytes[start] === 0) start++;
    return bytes.subarray(start);
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.remaining !== 0) throw new Error(`${this.#what}: ${this.remaining} unexpected trailing byte(s)`);
  }
}

/** Builds SSH wire values. */
export class WireWriter {
  readonly #parts: Buffer[] = [];

  raw(bytes: Uint8Array | string): this {
    this.#parts.push(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes));
    return this;
  }

  uint32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value >>> 0, 0);
    return this.raw(b);
  }

  uint64(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(value, 0);
    return this.raw(b);
  }

  string(bytes: Uint8Array | string): this {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
    return this.uint32(b.length).raw(b);
  }

  /** An unsigned magnitude as an `mpint`: leading zeros dropped, one zero added when the top bit is set. */
  mpint(magnitude: Uint8Array): this {
    let start = 0;
    while (start < magnitude.length && magnitude[start] === 0) start++;
    const trimmed = Buffer.from(magnitude.subarray(start));
    const padded = trimmed.length > 0 && (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.alloc(1), trimmed]) : trimmed;
    return this.string(padded);
  }

  bytes(): Buffer {
    return Buffer.concat(this.#parts);
  }
}
