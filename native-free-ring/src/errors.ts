/** Thrown by the blocking calls when the ring is closed before they could finish. */
export class RingClosedError extends Error {
  override readonly name = 'RingClosedError';
  /** Messages the call had already moved before it saw the ring closed. */
  readonly moved: number;

  constructor(message: string, moved = 0, options?: ErrorOptions) {
    super(message, options);
    this.moved = moved;
  }
}
