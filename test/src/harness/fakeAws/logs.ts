import { AwsError, JsonOperations, WireInput } from './protocol';

/** A CloudWatch log event as GetLogEvents returns it. */
export interface LogEvent {
  timestamp: number;
  message: string;
  ingestionTime: number;
}

/** CloudWatch's per-response limits for GetLogEvents. */
const MAX_EVENTS = 10_000;
const MAX_RESPONSE_BYTES = 1_048_576;
/** CloudWatch counts every event as its UTF-8 message plus 26 bytes. */
const EVENT_OVERHEAD_BYTES = 26;

const TOKEN = /^([fb])\/(\d{1,12})$/;

function resourceNotFound(message: string): AwsError {
  return new AwsError(400, 'ResourceNotFoundException', message);
}

function invalidParameter(message: string): AwsError {
  return new AwsError(400, 'InvalidParameterException', message);
}

/**
 * CloudWatch Logs' storage: groups of streams of events. ECS tasks write
 * to it as the awslogs driver does; GetLogEvents reads it.
 */
export class LogStore {
  private readonly groups = new Map<string, Map<string, LogEvent[]>>();

  /** @param ingestionDelayMs - the delay an event written now will have (the `delayLogs` fault). */
  constructor(private readonly ingestionDelayMs: () => number) {}

  createGroup(group: string): void {
    if (!this.groups.has(group)) this.groups.set(group, new Map());
  }

  /** The awslogs driver creates a task's stream when its container starts. */
  createStream(group: string, stream: string): void {
    this.createGroup(group);
    const streams = this.groups.get(group)!;
    if (!streams.has(stream)) streams.set(stream, []);
  }

  append(
    group: string,
    stream: string,
    message: string,
    timestamp = Date.now(),
  ): void {
    this.createStream(group, stream);
    this.groups
      .get(group)!
      .get(stream)!
      .push({
        timestamp,
        message,
        ingestionTime: timestamp + this.ingestionDelayMs(),
      });
  }

  /** Every event of a stream, visible or not yet (for tests). */
  events(group: string, stream: string): LogEvent[] | undefined {
    return this.groups.get(group)?.get(stream)?.slice();
  }

  readonly operations: JsonOperations = {
    GetLogEvents: input => this.getLogEvents(input),
  };

  /**
   * GetLogEvents as CloudWatch pages it. Tokens are positions in the
   * stream: `f/<n>` reads forward from event n, `b/<n>` backward from it.
   * Quirks reproduced because pollers depend on them:
   * - without a token and without `startFromHead: true` it returns the
   *   *last* events of the stream, not the first;
   * - at the end of the stream the same nextForwardToken comes back (a
   *   poller stops on "token unchanged", never on "no events");
   * - an event is visible only once ingested; visibility is a prefix of the
   *   stream, so a token never skips an event that shows up later.
   */
  private getLogEvents(input: WireInput) {
    const groupName = this.groupName(input);
    const streamName = input.requiredString('logStreamName');
    const streams = this.groups.get(groupName);
    if (!streams) {
      throw resourceNotFound('The specified log group does not exist.');
    }
    const all = streams.get(streamName);
    if (!all) {
      throw resourceNotFound('The specified log stream does not exist.');
    }

    const limit = input.number('limit') ?? MAX_EVENTS;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENTS) {
      throw invalidParameter(
        `1 validation error detected: Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and ${MAX_EVENTS}`,
      );
    }
    const startTime = input.number('startTime');
    const endTime = input.number('endTime');
    const inRange = (event: LogEvent) =>
      (startTime === undefined || event.timestamp >= startTime) &&
      (endTime === undefined || event.timestamp < endTime);

    const now = Date.now();
    let visible = 0;
    while (visible < all.length && all[visible].ingestionTime <= now)
      visible += 1;

    const token = input.string('nextToken');
    let direction: 'f' | 'b';
    let position: number;
    if (token !== undefined) {
      const match = TOKEN.exec(token);
      if (!match || Number(match[2]) > all.length) {
        throw invalidParameter('The specified nextToken is invalid.');
      }
      direction = match[1] as 'f' | 'b';
      position = Math.min(Number(match[2]), visible);
    } else if (input.boolean('startFromHead')) {
      direction = 'f';
      position = 0;
    } else {
      direction = 'b';
      position = visible;
    }

    const events: LogEvent[] = [];
    let bytes = 0;
    const fits = (event: LogEvent) => {
      const size = Buffer.byteLength(event.message) + EVENT_OVERHEAD_BYTES;
      if (events.length >= limit || bytes + size > MAX_RESPONSE_BYTES) {
        return false;
      }
      bytes += size;
      return true;
    };
    if (direction === 'f') {
      let first: number | undefined;
      let next = position;
      for (; next < visible; next += 1) {
        if (!inRange(all[next])) continue;
        if (!fits(all[next])) break;
        first ??= next;
        events.push(all[next]);
      }
      first ??= position;
      return {
        events,
        nextForwardToken: `f/${next}`,
        nextBackwardToken: `b/${first}`,
      };
    }
    let first = position;
    for (; first > 0; first -= 1) {
      const event = all[first - 1];
      if (!inRange(event)) continue;
      if (!fits(event)) break;
      events.unshift(event);
    }
    return {
      events,
      nextForwardToken: `f/${position}`,
      nextBackwardToken: `b/${first}`,
    };
  }

  private groupName(input: WireInput): string {
    const name = input.string('logGroupName');
    const identifier = input.string('logGroupIdentifier');
    if (name && identifier) {
      throw invalidParameter(
        'LogGroup name and LogGroup ARN are mutually exclusive parameters.',
      );
    }
    if (identifier) {
      // An ARN names the group after `log-group:` (without the `:*` suffix).
      return (
        /^arn:[^:]+:logs:[^:]*:[^:]*:log-group:(.+)$/.exec(identifier)?.[1] ??
        identifier
      );
    }
    if (!name) {
      throw invalidParameter(
        'Either logGroupName or logGroupIdentifier must be provided.',
      );
    }
    return name;
  }
}
