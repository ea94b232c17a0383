import {
  CatalogModule,
  PlanPolicy,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { ModuleGraph } from './moduleGraph';

/** What the code is judged against: the environment's own policy and the job's catalog snapshot. */
export interface InspectionContext {
  /** Named in reasons: "refused in prod". */
  environment: string;
  policy: PlanPolicy;
  /** The vetted catalog modules, with the commit each vetted tag is pinned to. */
  modules: readonly CatalogModule[];
}

/** One refused construct; the reason names file, line and construct. */
export interface Finding {
  rule: string;
  reason: string;
}

/**
 * A rule of the inspection: a pure function of what was loaded and the
 * policy. Everything a rule does not allow by name is a finding.
 */
export type InspectionRule = (
  graph: ModuleGraph,
  context: InspectionContext,
) => Finding[];
