import { Agent, request } from 'node:http';

export interface RawRequest {
  method: string;
  /** Sent byte for byte as the request target: no URL normalisation, so `../` reaches the server. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Milliseconds before the request is abandoned (a hang counts as a crash). */
  timeoutMs?: number;
  /** Read at most this much of the answer (event streams never end on their own). */
  maxBytes?: number;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json?: any;
  /** The request timed out before an answer began. */
  timedOut?: boolean;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

/**
 * One HTTP request with exactly the given method, target, headers and body.
 * `fetch` would normalise dot segments, refuse some header values and add a
 * content type; hostile inputs need to reach the server as written.
 */
export function rawRequest(
  baseUrl: string,
  req: RawRequest,
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    let body: Buffer | undefined;
    if (req.body !== undefined) {
      body = Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
    }
    // Set once the request exists; the answer's handlers clear it.
    const deadline: { timer?: NodeJS.Timeout } = {};
    const r = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers: {
          ...(body ? { 'content-length': String(body.length) } : {}),
          ...req.headers,
        },
      },
      res => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          chunks.push(chunk);
          if (req.maxBytes !== undefined && size >= req.maxBytes) {
            res.destroy();
          }
        });
        const done = () => {
          clearTimeout(deadline.timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json,
          });
        };
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    deadline.timer = setTimeout(() => {
      r.destroy();
      resolve({ status: 0, headers: {}, text: '', timedOut: true });
    }, req.timeoutMs ?? 15_000);
    r.on('error', error => {
      clearTimeout(deadline.timer);
      reject(error);
    });
    if (body) r.write(body);
    r.end();
  });
}

export function closeRawHttp() {
  agent.destroy();
}
