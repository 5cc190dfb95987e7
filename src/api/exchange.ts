/**
 * One request and its response on uWS: what the handlers need from the
 * request, copied out while uWS still holds it, and a response that is
 * written at most once, inside `cork`, and never after the client has gone.
 *
 * API thread only. uWS's HttpRequest lives on the stack of the route
 * callback, so everything from it is read in the constructor; the
 * HttpResponse stays valid until it is ended or aborted. `onAborted` is
 * attached at once, so an async handler may await freely and then call
 * `send`, which does nothing if the client went away meanwhile.
 */
import { ApiError, ErrorCode, statusLine } from './errors.js';
import type { HttpRequest, HttpResponse } from './uws.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

/** Called once per exchange: when the response is sent (its status) or the client aborts (499). */
export type Finish = (ex: Exchange, status: number) => void;

/** The status counted for a request whose client went away before the answer (nginx's convention). */
export const CLIENT_CLOSED = 499;

export class Exchange {
  /** Uppercase, as on the wire: `GET`. */
  readonly method: string;
  /** The path as sent, still percent-encoded. */
  readonly path: string;
  /** The raw query string, without `?`. */
  readonly query: string;
  readonly authorization: string;
  /** Content-Length, or -1 when absent (uWS itself drops a request with a malformed one). */
  readonly contentLength: number;
  readonly startedMs = performance.now();
  /** The route pattern that matched, for metrics; `unmatched` for a 404 route. */
  route = 'unmatched';
  private state: 'open' | 'sent' | 'aborted' = 'open';

  constructor(
    private readonly res: HttpResponse,
    req: HttpRequest,
    private readonly finish: Finish,
  ) {
    this.method = req.getCaseSensitiveMethod().toUpperCase();
    this.path = req.getUrl();
    this.query = req.getQuery() ?? ''; // uWS gives undefined when there is no `?`
    this.authorization = req.getHeader('authorization');
    const length = req.getHeader('content-length');
    this.contentLength = length === '' ? -1 : Number(length);
    res.onAborted(() => {
      if (this.state !== 'open') return;
      this.state = 'aborted';
      this.finish(this, CLIENT_CLOSED);
    });
  }

  /** The client has gone; nothing may be written. */
  get aborted(): boolean {
    return this.state === 'aborted';
  }

  /** The remote address, 4 (IPv4) or 16 (IPv6) bytes. Valid until the response is done. */
  remoteAddress(): Uint8Array {
    return new Uint8Array(this.res.getRemoteAddress().slice(0));
  }

  /**
   * Writes the whole response in one corked write. Does nothing once the
   * exchange is done, so a handler that finishes after its client left costs
   * nothing more. `close` asks uWS to close the connection afterwards (a
   * request body left unread).
   */
  send(status: number, contentType: string, body: string | Uint8Array, headers?: Readonly<Record<string, string>>, close = false): void {
    if (this.state !== 'open') return;
    this.state = 'sent';
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status)).writeHeader('Content-Type', contentType);
      if (headers !== undefined) for (const name in headers) this.res.writeHeader(name, headers[name]!);
      this.res.end(body, close);
    });
    this.finish(this, status);
  }

  json(status: number, body: string, headers?: Readonly<Record<string, string>>): void {
    this.send(status, JSON_TYPE, body, headers);
  }

  error(err: ApiError, close = false): void {
    this.send(err.status, JSON_TYPE, err.toJson(), err.headers, close);
  }

  /**
   * Collects the request body, at most `maxBytes`. Must be called before the
   * handler first awaits (uWS drops data no one listens for). A larger body,
   * announced or sent, rejects with a 413 and the connection is closed after
   * the answer.
   */
  readBody(maxBytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.contentLength > maxBytes) {
        reject(tooLarge(`request body of ${this.contentLength} bytes is over the ${maxBytes}-byte limit`));
        return;
      }
      const parts: Buffer[] = [];
      let bytes = 0;
      let over = false;
      this.res.onData((chunk, isLast) => {
        if (over) return;
        bytes += chunk.byteLength;
        if (bytes > maxBytes) {
          over = true;
          reject(tooLarge(`request body is over the ${maxBytes}-byte limit`));
          return;
        }
        parts.push(Buffer.from(chunk.slice(0))); // uWS neuters the chunk on return
        if (isLast) resolve(Buffer.concat(parts));
      });
    });
  }
}

function tooLarge(message: string): ApiError {
  return new ApiError(413, ErrorCode.TooLarge, message);
}
