import {
  Run,
  RunStatus,
  TERMINAL_RUN_STATUSES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';

export interface Response<T = any> {
  status: number;
  body: T;
}

export type DemoProvider = 'guest' | 'demo-approver';

/** Each demo identity and a group it must carry once the catalog knows the user. */
const EXPECTED_GROUP: Record<DemoProvider, string> = {
  guest: 'group:default/payments-team',
  'demo-approver': 'group:default/platform-team',
};

/**
 * Signs in through the backend's real auth providers, as the README shows
 * with curl. Retries until the catalog has ingested the user: before that,
 * the guest provider issues a token without the user's group memberships.
 */
export async function signIn(
  baseUrl: string,
  provider: DemoProvider,
  timeoutMs = 60_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${baseUrl}/api/auth/${provider}/refresh`, {
      headers: { 'X-Requested-With': 'XMLHttpRequest' },
    });
    const text = await response.text();
    if (response.ok) {
      const { backstageIdentity } = JSON.parse(text);
      if (
        backstageIdentity.identity.ownershipEntityRefs.includes(
          EXPECTED_GROUP[provider],
        )
      ) {
        return backstageIdentity.token;
      }
    }
    if (Date.now() > deadline) {
      throw new Error(
        `sign-in with ${provider} failed: ${response.status} ${text}`,
      );
    }
    await new Promise(r => setTimeout(r, 500));
  }
}

/** The gate's HTTP API as one identity sees it. */
export class GateClient {
  constructor(readonly baseUrl: string, readonly token: string | undefined) {}

  static async as(
    baseUrl: string,
    provider: DemoProvider,
  ): Promise<GateClient> {
    return new GateClient(baseUrl, await signIn(baseUrl, provider));
  }

  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Response<T>> {
    const response = await fetch(`${this.baseUrl}/api/sealed-runner${path}`, {
      method,
      headers: {
        ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}),
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      // A string is sent as it is, so tests can send malformed JSON.
      body:
        typeof body === 'string' || body === undefined
          ? body
          : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: any = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed };
  }

  async plan(
    entityRef: string,
    environment: string,
    ref?: string,
  ): Promise<Response> {
    return this.request('POST', '/runs', {
      entityRef,
      environment,
      operation: 'plan',
      ...(ref ? { ref } : {}),
    });
  }

  async run(id: string): Promise<Run> {
    const response = await this.request<{ run: Run }>('GET', `/runs/${id}`);
    if (response.status !== 200) {
      throw new Error(
        `GET /runs/${id}: ${response.status} ${JSON.stringify(response.body)}`,
      );
    }
    return response.body.run;
  }

  async logs(id: string): Promise<string[]> {
    const lines: string[] = [];
    let after = 0;
    for (;;) {
      const { body } = await this.request(
        'GET',
        `/runs/${id}/logs?after=${after}`,
      );
      lines.push(...body.lines);
      if (body.lines.length === 0 || body.next === after) {
        return lines;
      }
      after = body.next;
    }
  }

  /** Polls a run until `until` holds (default: it ended). */
  async waitForRun(
    id: string,
    until: (run: Run) => boolean = run =>
      TERMINAL_RUN_STATUSES.includes(run.status),
    timeoutMs = 120_000,
  ): Promise<Run> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await this.run(id);
      if (until(run)) {
        return run;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `run ${id} is still ${run.status} after ${timeoutMs} ms`,
        );
      }
      await new Promise(r => setTimeout(r, 200));
    }
  }

  /** Waits until the catalog has ingested an entity's targets. */
  async waitForTargets(entityRef: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { status } = await this.request(
        'GET',
        `/targets?entityRef=${encodeURIComponent(entityRef)}`,
      );
      if (status === 200) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${entityRef} did not appear in the catalog (last status ${status})`,
        );
      }
      await new Promise(r => setTimeout(r, 500));
    }
  }
}

export const isStatus =
  (...statuses: RunStatus[]) =>
  (run: Run) =>
    statuses.includes(run.status);
