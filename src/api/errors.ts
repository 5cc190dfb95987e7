/**
 * The API's errors: each one an HTTP status, a stable machine-readable code
 * and a message that names the offending parameter and value. Rendered as
 * `{"error":{"code":"…","message":"…"}}`; a stack trace never leaves the
 * process.
 */

export const ErrorCode = {
  BadParameter: 'bad_parameter',
  BadTimeRange: 'bad_time_range',
  BadCursor: 'bad_cursor',
  BadBody: 'bad_body',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  GpuNotFound: 'gpu_not_found',
  RouteNotFound: 'route_not_found',
  MethodNotAllowed: 'method_not_allowed',
  TooLarge: 'request_too_large',
  Unavailable: 'unavailable',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error meant for the client; anything else thrown by a handler becomes a 500 `internal`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers (`Allow` for a 405, `WWW-Authenticate` for a 401). */
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJson(): string {
    return JSON.stringify({ error: { code: this.code, message: this.message } });
  }
}

/** Status lines uWS writes as given. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: '200 OK',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  413: '413 Content Too Large',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? String(status);
}
