export interface Config {
  /** The app's permission policy for the sealed runner (packages/backend). */
  sealedRunnerPolicy: {
    /** Groups whose members may approve, and act on every target. */
    platformGroups: string[];
    /** Groups whose members hold the break-glass permission. */
    breakGlassGroups?: string[];
  };
}
