/**
 * A fault to inject into {@link FakeAws}: what AWS does to a dispatcher on a
 * bad day.
 *
 * - `throttle`: the next `times` calls of `operation` (an API operation name:
 *   `RunTask`, `DescribeTasks`, `StopTask`, `GetLogEvents`, `Sign`,
 *   `GetPublicKey`, `PutObject`, `GetObject`, `HeadObject`, `DeleteObject`)
 *   are throttled: 400 `ThrottlingException`, or 503 `SlowDown` for S3.
 * - `serverError`: the next `times` calls of `operation` fail with the
 *   service's 500 (`ServerException` for ECS, `ServiceUnavailableException`
 *   for Logs, `KMSInternalException` for KMS, `InternalError` for S3).
 * - `capacity`: the next `times` RunTask calls answer 200 with no task and a
 *   `failures[]` entry, as Fargate does when it has no capacity.
 * - `failToStart`: the next task goes PROVISIONING, PENDING, then STOPPED
 *   with stopCode `TaskFailedToStart` and no process, no log stream.
 * - `dieMidRun`: the next task's process is SIGKILLed once it has written
 *   `afterLines` stdout lines (later output is lost); the task stops with
 *   exit code 137 and `stopCode` (default `SpotInterruption`).
 * - `delayLogs`: from now on a log event becomes visible to GetLogEvents
 *   only `ms` after it was written (CloudWatch's ingestion delay). `ms: 0`
 *   ends the delay for later events.
 * - `describeLag` (an addition to the brief): from now on DescribeTasks
 *   reports a new task as a `MISSING` failure until `ms` after RunTask
 *   started it — ECS's eventual consistency, which a dispatcher must not
 *   mistake for a lost task.
 *
 * @public
 */
export type FakeAwsFault =
  | { type: 'throttle'; operation: string; times: number }
  | { type: 'serverError'; operation: string; times: number }
  | { type: 'capacity'; times: number }
  | { type: 'failToStart'; stoppedReason?: string }
  | {
      type: 'dieMidRun';
      afterLines: number;
      stopCode?:
        | 'SpotInterruption'
        | 'EssentialContainerExited'
        | 'TerminationNotice';
    }
  | { type: 'delayLogs'; ms: number }
  | { type: 'describeLag'; ms: number };

/** What a task does instead of running to completion. */
export type TaskFault = Extract<
  FakeAwsFault,
  { type: 'failToStart' } | { type: 'dieMidRun' }
>;

type CountedFault = Extract<FakeAwsFault, { times: number }>;

/** The faults waiting to happen, consumed as requests and tasks meet them. */
export class FaultPlan {
  private counted: CountedFault[] = [];
  private taskFaults: TaskFault[] = [];
  private logDelay = 0;
  private describeLag = 0;

  inject(fault: FakeAwsFault): void {
    switch (fault.type) {
      case 'throttle':
      case 'serverError':
      case 'capacity':
        if (fault.times > 0) this.counted.push({ ...fault });
        break;
      case 'failToStart':
      case 'dieMidRun':
        this.taskFaults.push({ ...fault });
        break;
      case 'delayLogs':
        this.logDelay = Math.max(0, fault.ms);
        break;
      case 'describeLag':
        this.describeLag = Math.max(0, fault.ms);
        break;
      default:
        throw new Error(`unknown fault ${JSON.stringify(fault)}`);
    }
  }

  clear(): void {
    this.counted = [];
    this.taskFaults = [];
    this.logDelay = 0;
    this.describeLag = 0;
  }

  /** Consumes one throttle or server error waiting for `operation`, if any. */
  takeRequestFault(operation: string): 'throttle' | 'serverError' | undefined {
    const fault = this.counted.find(
      f => f.type !== 'capacity' && f.operation === operation,
    );
    return fault && this.consume(fault)
      ? (fault.type as 'throttle' | 'serverError')
      : undefined;
  }

  /** Consumes one capacity failure, if any is waiting. */
  takeCapacityFailure(): boolean {
    const fault = this.counted.find(f => f.type === 'capacity');
    return fault ? this.consume(fault) : false;
  }

  /** The fault the next task meets, in the order they were injected. */
  takeTaskFault(): TaskFault | undefined {
    return this.taskFaults.shift();
  }

  /** CloudWatch ingestion delay for events written now. */
  get logDelayMs(): number {
    return this.logDelay;
  }

  /** How long DescribeTasks does not see a task started now. */
  get describeLagMs(): number {
    return this.describeLag;
  }

  private consume(fault: CountedFault): boolean {
    fault.times -= 1;
    if (fault.times <= 0) {
      this.counted = this.counted.filter(f => f !== fault);
    }
    return true;
  }
}
