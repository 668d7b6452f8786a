/**
 * Internal helpers of the reliability suite.
 *
 * @since 0.1.0
 */
export {}
