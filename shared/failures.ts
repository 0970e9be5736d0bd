/**
 * The types of the ApplicationFailures the activities throw and the workflow names in
 * `nonRetryableErrorTypes` or branches on: one spelling for both sides. Recorded histories carry
 * these strings, so they never change.
 */
export const FAILURE = {
  providerInput: 'ProviderInputError',
  propagationTimeout: 'PropagationTimeout',
  unknownProvider: 'UnknownProvider',
  /** Not backed by the product's own signed decision or the current policy: nothing was granted. */
  untrustedInput: 'UntrustedInput',
  /** A provision attempt that outlived its request (timed out and retried, still running): nothing of it stays granted. */
  requestEnded: 'RequestEnded',
} as const;
export type FailureType = (typeof FAILURE)[keyof typeof FAILURE];
