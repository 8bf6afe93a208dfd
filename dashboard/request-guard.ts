import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Hosts a dashboard may bind to without a token: only this machine can reach them. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/**
 * Why a read is refused, or undefined. On a loopback address, the Host header
 * must name a loopback host too: a web page whose name was made to resolve to
 * 127.0.0.1 (DNS rebinding) would otherwise read the dashboard.
 */
export function readRefusal(request: IncomingMessage, boundHost: string): string | undefined {
  if (!isLoopbackHost(boundHost)) return undefined;
  const host = request.headers.host ?? '';
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return isLoopbackHost(name) ? undefined : `Host ${host} is not this dashboard's`;
}

/**
 * Why an action (a POST) is refused, or undefined. CSRF-safe without cookies:
 * the token travels in a header, which another site's page cannot set
 * without a CORS preflight this server never grants; the body must be JSON
 * (not a form another site could post); and a browser's Origin and
 * Sec-Fetch-Site, when sent, must say the request came from this page.
 */
export function actionRefusal(request: IncomingMessage, token: string | undefined): { status: number; message: string } | undefined {
  if (token === undefined) return { status: 403, message: 'actions are off: start the dashboard with WORKMESH_DASHBOARD_TOKEN set' };
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/json') return { status: 415, message: 'actions take a JSON body (Content-Type: application/json)' };
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return { status: 403, message: `cross-site request refused (Sec-Fetch-Site: ${site})` };
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      return { status: 403, message: `bad Origin ${origin}` };
    }
    if (originHost !== request.headers.host) return { status: 403, message: `cross-origin request refused (Origin: ${origin})` };
  } else if (origin === 'null') return { status: 403, message: 'cross-origin request refused (Origin: null)' };
  const given = request.headers['x-workmesh-token'];
  if (typeof given !== 'string' || given === '')
    return { status: 401, message: 'this action needs the dashboard token (X-Workmesh-Token)' };
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { status: 401, message: 'wrong dashboard token' };
  return undefined;
}
