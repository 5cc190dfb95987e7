/**
 * uWebSockets.js, native only. The package quietly swaps in a JavaScript
 * shim (its dist/, built on node:http and ws) when UWS_USE_FALLBACK is set
 * or when no binary of its own loads for this Node (platform, arch, ABI).
 * The shim would serve, slowly and with other semantics (no cork, other
 * abort timing), so the API refuses it: `nativeUws()` throws instead.
 *
 * The module is loaded when this file is imported; the check runs on call.
 */
import uws, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';

export type Uws = typeof uws;
export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from 'uWebSockets.js';

export class UwsFallbackError extends Error {
  override readonly name = 'UwsFallbackError';
}

/** True when `App` is the addon's function, not the shim's JavaScript. */
export function isNativeUws(module: { App?: unknown; getParts?: unknown }): boolean {
  return (
    typeof module.App === 'function' &&
    typeof module.getParts === 'function' && // the shim has no getParts
    /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(module.App))
  );
}

/** The native uWS module. @throws UwsFallbackError on the JavaScript fallback */
export function nativeUws(): Uws {
  if (!isNativeUws(uws as unknown as Record<string, unknown>)) {
    const { platform, arch, versions } = process;
    throw new UwsFallbackError(
      'uWebSockets.js loaded its JavaScript fallback instead of the native server ' +
        `(UWS_USE_FALLBACK is set, or it ships no binary for ${platform}-${arch} Node ${versions.node}, ABI ${versions.modules}); ` +
        'the API needs the native build: unset UWS_USE_FALLBACK, or run a Node version it has a binary for',
    );
  }
  return uws;
}

/** What the addon has beyond its published types. */
interface NativeExtras {
  /** Listen option: fail rather than share a port (uWS sets SO_REUSEPORT otherwise). */
  LIBUS_LISTEN_EXCLUSIVE_PORT: number;
}
type ListenWithOptions = (host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void) => unknown;

/** Listens on host:port alone: a port someone holds fails instead of being shared. */
export function listenExclusive(native: Uws, app: TemplatedApp, host: string, port: number): Promise<us_listen_socket | false> {
  const exclusive = (native as unknown as NativeExtras).LIBUS_LISTEN_EXCLUSIVE_PORT;
  return new Promise((resolve) => (app.listen as unknown as ListenWithOptions).call(app, host, port, exclusive, resolve));
}

/** Closes every listen socket and connection of the app (the addon has it; its types do not). */
export function closeApp(app: TemplatedApp): void {
  (app as TemplatedApp & { close(): void }).close();
}
