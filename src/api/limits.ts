/**
 * Request size limits, with the reasons for each number.
 */

/**
 * Longest URL (path and query) answered; longer ones get a 413. 8 KiB holds
 * a query naming every DCGM metric twice over. uWS itself drops a
 * connection whose request head passes its own buffer (about 64 KiB here)
 * before any handler runs, so those get no answer at all.
 */
export const MAX_URL_BYTES = 8192;
