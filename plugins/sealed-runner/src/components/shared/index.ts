export { ActionButton } from './ActionButton';
export { PlanSummary } from './PlanSummary';
export { RunStatusLabel } from './RunStatusLabel';
export * from './runActions';
export * from './time';
export { RunLink, RunStatusLink } from './RunLink';
export { RunSummaryLine } from './RunSummaryLine';
