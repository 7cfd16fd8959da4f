// Preload (`node --require`) that sets this process's wall clock ERT_TEST_CLOCK_SHIFT_MS milliseconds ahead (negative: behind): an instance whose clock is off, while Redis keeps the real time.
'use strict';

const shiftMs = Number(process.env.ERT_TEST_CLOCK_SHIFT_MS ?? 0);
const RealDate = Date;

/** `Date` with the shifted "now": `Date.now()`, `new Date()` and `Date()`; every other use is the real Date's. */
function ShiftedDate(...args) {
  if (!new.target) return new RealDate(RealDate.now() + shiftMs).toString();
  return args.length === 0 ? new RealDate(RealDate.now() + shiftMs) : new RealDate(...args);
}
ShiftedDate.prototype = RealDate.prototype;
ShiftedDate.now = () => RealDate.now() + shiftMs;
ShiftedDate.parse = RealDate.parse;
ShiftedDate.UTC = RealDate.UTC;
globalThis.Date = ShiftedDate;
