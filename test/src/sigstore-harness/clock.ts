/**
 * A clock for the mock TSA that only shows whole seconds.
 *
 * Why: the mock TSA writes `genTime` with milliseconds, and its ASN.1 encoder (asn1js) drops trailing zeros of the
 * fraction as DER wants (`.12Z` for 120 ms). sigstore-js (`@sigstore/core`) parses a `GeneralizedTime` fraction only
 * when it has exactly three digits, so about one timestamp in ten (milliseconds divisible by 10, not 0) failed to
 * parse. Whole seconds have no fraction at all.
 *
 * How: `initializeTSA(keyPair, clock)` keeps the `Date` it is given and reads it for every timestamp (a fixed time,
 * by design of the mock). We hand it one `Date` object and move it to the current whole second before each request.
 */
export class WholeSecondClock {
  /** The `Date` object to pass to the mock; {@link WholeSecondClock.tick} moves it. */
  readonly date = new Date(wholeSecond());

  /** Sets {@link WholeSecondClock.date} to the current time rounded down to the second, and returns it. */
  tick(): Date {
    this.date.setTime(wholeSecond());
    return this.date;
  }
}

function wholeSecond(): number {
  return Math.floor(Date.now() / 1000) * 1000;
}
