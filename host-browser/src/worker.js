// The module Worker that runs the engine off the page's thread. Messages in:
// `{ call, method, args }` (a Session method) and `{ abort: call }`; out:
// `{ call, value }` or `{ call, error }`, and `{ ready, info }` once started.

import { Session, describeError } from './session.js';

let session = null;
const controllers = new Map();

// Every fetch() the engine makes (through wasi:http) carries the signal of the
// call that caused it, so aborting a call aborts its requests in flight. And
// it bypasses the HTTP cache: Chromium's cache lets only one request per URL
// through at a time (its cache lock), which made a wave of range requests to
// one file run one after another (measured: 8 ranges at 80 ms took 733 ms
// through the cache, 210 ms with `cache: 'no-store'`).
const baseFetch = globalThis.fetch.bind(globalThis);
globalThis.fetch = (input, init = {}) => {
  const callSignal = session?.abortSignal;
  const signal = callSignal && init.signal ? AbortSignal.any([init.signal, callSignal]) : (callSignal ?? init.signal);
  return baseFetch(input, { ...init, cache: 'no-store', ...(signal ? { signal } : {}) });
};

/** Whether `url` is on another origin than this Worker's (so CORS applies). */
const crossOrigin = (url) => Boolean(url) && new URL(url, location.href).origin !== location.origin;

/** Adds what the browser hides to a network error: was it CORS? */
async function explainNetworkError(error, url) {
  if (error.tag !== 'network' || !crossOrigin(url)) return error;
  const reachable = await baseFetch(url, { mode: 'no-cors', method: 'GET', headers: { Range: 'bytes=0-0' } })
    .then(() => true, () => false);
  if (reachable) {
    return {
      ...error,
      tag: 'cors',
      message: `${url} is on another origin whose server does not allow cross-origin reads (CORS): it must answer with Access-Control-Allow-Origin, allow the Range header in preflights and expose Content-Range. (${error.message})`,
    };
  }
  return { ...error, message: `${url} could not be reached: ${error.message}` };
}

function exposeHint(error, url) {
  if (error.tag === 'protocol' && /content-range/i.test(error.message) && crossOrigin(url)) {
    return { ...error, message: `${error.message} (a cross-origin server must list Content-Range in Access-Control-Expose-Headers)` };
  }
  return error;
}

self.onmessage = async ({ data }) => {
  if (data.start) {
    try {
      session = await Session.start(data.start);
      self.postMessage({ ready: true, info: session.info });
    } catch (error) {
      self.postMessage({ ready: false, error: describeError(error) });
    }
    return;
  }
  if (data.abort !== undefined) {
    controllers.get(data.abort)?.abort();
    return;
  }
  const { call, method, args, url } = data;
  const controller = new AbortController();
  controllers.set(call, controller);
  try {
    const value = await session[method](...args, controller.signal);
    const transfer = [value?.batch?.buffer, value?.schema?.buffer, value?.arrowSchema?.buffer].filter(Boolean);
    self.postMessage({ call, value }, transfer);
  } catch (thrown) {
    const error = exposeHint(await explainNetworkError(describeError(thrown, controller.signal), url), url);
    self.postMessage({ call, error });
  } finally {
    controllers.delete(call);
  }
};
