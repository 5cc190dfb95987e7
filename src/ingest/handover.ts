/**
 * Shared words between the engine and its streamers: stop, and the handover
 * that changes the number of streamers (see streamer-worker.ts). Kept apart
 * from the worker module, which runs a streamer when imported.
 */

/** Words of the shared control array (the engine writes, streamers read). */
export const Control = {
  /** 1: stop now. */
  Stop: 0,
  /** A pause request's number: pause at the next row, report the position, wait for the cut. */
  Pause: 1,
  /** 1 once CutPass/CutLine are set: stream the rows before the cut, then exit. */
  CutSet: 2,
  CutPass: 3,
  CutLine: 4,
  /** Bumped (and notified) when the cut is set or on stop. */
  Bell: 5,
} as const;
/** Words per streamer in the positions array. */
export const Position = {
  /** Rows before (Pass, Line) are handed to the ring. */
  Pass: 0,
  Line: 1,
  /** The pause request this streamer has answered. */
  Acked: 2,
  /** 1 when it has streamed all it will (LOOP=false, or reached the cut). */
  Finished: 3,
  Words: 4,
} as const;
/** A line past any file: "the whole pass". */
export const END_LINE = 0x7fffffff;
