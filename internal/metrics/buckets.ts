// Histogram buckets shared by the role metrics (a module of its own so that they do not import metrics.ts,
// which imports them).

/** Latency buckets in seconds, 1 ms to 1 min: from an in-process hop to an ACK that waited for a resend. */
export const LATENCY_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60,
];
