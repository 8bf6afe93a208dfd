/**
 * The longest delay Node's timers hold: a longer one fires after 1 ms (with a
 * warning), so a time-out of 3,000,000,000 ms would fail every request at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
