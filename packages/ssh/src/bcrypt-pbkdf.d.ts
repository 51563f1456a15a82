/** Types of the `bcrypt-pbkdf` package (a CommonJS port of OpenBSD's bcrypt_pbkdf), for what lading uses. */
declare module 'bcrypt-pbkdf' {
  /** Fills `key` with `keylen` bytes derived from `pass` and `salt` in `rounds` rounds; returns 0, or -1 on bad input. */
  export function pbkdf(
    pass: Uint8Array,
    passlen: number,
    salt: Uint8Array,
    saltlen: number,
    key: Uint8Array,
    keylen: number,
    rounds: number,
  ): number;
}
