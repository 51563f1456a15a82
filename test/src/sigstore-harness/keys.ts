import { generateKeyPairSync, type KeyObject } from 'node:crypto';

/** A fresh P-256 key pair, the shape and curve `@sigstore/mock` takes for its CA, CT log, log and TSA. */
export function newKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}
